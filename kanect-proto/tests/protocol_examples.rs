//! Every JSON example in `kanect-http/PROTOCOL.md` parses into the `kanect-proto` type it is
//! an example of, so the prose and the types cannot drift apart.
//!
//! A block names its type after the fence's language: ```` ```json Message ````. A block may
//! hold several values (one frame per line, as the WebSocket examples are written). Elided ids
//! in the prose (`"0193…"`) stand for real ones: they are replaced by a UUID before parsing, and
//! elided hex tokens (`"9f2c…64 hex…"`) by 64 hex digits. A `json` block without a type fails
//! the test: an example nothing checks is an example that can go stale. For the same reason a
//! fence indented under a list item counts as one.

use kanect_proto::{
    rest, AdminUserView, Attachment, ClientFrame, Conversation, ConversationView, ErrorBody, Message, NewPoll,
    NewPushSubscription, NotificationSettings, PollCreated, PollEvents, PushEndpoint, PushKey, ServerFrame,
    SetDoNotDisturb, SetNotificationLevel, User, UserView,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

const PROTOCOL_MD: &str = include_str!("../../kanect-http/PROTOCOL.md");

/// One fenced JSON block: the section it sits in, its line, its type name, its text.
struct Example {
    section: String,
    line: usize,
    type_name: Option<String>,
    text: String,
}

fn json_blocks(markdown: &str) -> Vec<Example> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    // Inside a fence: Some(Some(block)) for a JSON one, Some(None) for any other (headers, shell).
    let mut open: Option<Option<Example>> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (Some(block), Some(_)) => {
                blocks.extend(block.take());
                open = None;
            }
            (Some(Some(block)), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (Some(None), None) => {}
            (None, Some(info)) => {
                let mut words = info.split_whitespace();
                open = Some((words.next() == Some("json")).then(|| Example {
                    section: section.clone(),
                    line: index + 1,
                    type_name: words.next().map(str::to_owned),
                    text: String::new(),
                }));
            }
            (None, None) => {
                if line.starts_with("## ") {
                    section = line.to_owned();
                }
            }
        }
    }
    blocks
}

/// Replaces the prose's elisions with values of the right shape.
fn fill_elisions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let content = &after[..end];
        if content.contains('…') {
            if content.contains("hex") {
                out.push('"');
                out.push_str(&"0".repeat(64));
                out.push('"');
            } else {
                out.push_str("\"0193a8b0-0000-7000-8000-000000000001\"");
            }
        } else {
            out.push('"');
            out.push_str(content);
            out.push('"');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses every value of a block as `T`, and each must also be exactly what its type writes
/// back: no field the type does not have (a response type or record ignores unknown fields when
/// reading, so a misspelt one would otherwise pass), none left out (an absent optional field
/// reads as `None`), `null` where the server writes `null`.
fn parse_exact<T: DeserializeOwned + Serialize>(text: &str) -> Result<usize, String> {
    let mut count = 0;
    for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        let value = value.map_err(|e| format!("not JSON: {e}"))?;
        let parsed = serde_json::from_value::<T>(value.clone()).map_err(|e| format!("{value}: {e}"))?;
        let written = serde_json::to_value(&parsed).map_err(|e| format!("{value}: {e}"))?;
        if written != value {
            return Err(format!("{value}: the type writes it as {written}"));
        }
        count += 1;
    }
    Ok(count)
}

/// Parses a block as the type it names; the registry of every type an example may name.
fn check(type_name: &str, text: &str) -> Result<usize, String> {
    match type_name {
        "User" => parse_exact::<User>(text),
        "Conversation" => parse_exact::<Conversation>(text),
        "Message" => parse_exact::<Message>(text),
        "Attachment" => parse_exact::<Attachment>(text),
        "UserView" => parse_exact::<UserView>(text),
        "AdminUserView" => parse_exact::<AdminUserView>(text),
        "ConversationView" => parse_exact::<ConversationView>(text),
        "rest::SignUp" => parse_exact::<rest::SignUp>(text),
        "rest::LogIn" => parse_exact::<rest::LogIn>(text),
        "rest::UserRef" => parse_exact::<rest::UserRef>(text),
        "rest::NewGroup" => parse_exact::<rest::NewGroup>(text),
        "rest::Rename" => parse_exact::<rest::Rename>(text),
        "rest::Send" => parse_exact::<rest::Send>(text),
        "rest::Edit" => parse_exact::<rest::Edit>(text),
        "rest::Mark" => parse_exact::<rest::Mark>(text),
        "rest::Disabled" => parse_exact::<rest::Disabled>(text),
        "rest::SetRole" => parse_exact::<rest::SetRole>(text),
        "rest::Password" => parse_exact::<rest::Password>(text),
        "rest::ProfileUpdate" => parse_exact::<rest::ProfileUpdate>(text),
        "rest::PasswordChange" => parse_exact::<rest::PasswordChange>(text),
        "rest::PasswordChanged" => parse_exact::<rest::PasswordChanged>(text),
        "rest::AccountDeletion" => parse_exact::<rest::AccountDeletion>(text),
        "rest::SessionList" => parse_exact::<rest::SessionList>(text),
        "rest::LoggedIn" => parse_exact::<rest::LoggedIn>(text),
        "rest::LoggedOut" => parse_exact::<rest::LoggedOut>(text),
        "rest::UserPage" => parse_exact::<rest::UserPage>(text),
        "rest::ConversationPage" => parse_exact::<rest::ConversationPage>(text),
        "rest::MessagePage" => parse_exact::<rest::MessagePage>(text),
        "rest::Marked" => parse_exact::<rest::Marked>(text),
        "rest::AdminUserPage" => parse_exact::<rest::AdminUserPage>(text),
        "rest::AdminConversationPage" => parse_exact::<rest::AdminConversationPage>(text),
        "rest::ServerStats" => parse_exact::<rest::ServerStats>(text),
        "rest::AuditPage" => parse_exact::<rest::AuditPage>(text),
        "rest::Health" => parse_exact::<rest::Health>(text),
        "rest::SearchPage" => parse_exact::<rest::SearchPage>(text),
        "rest::SignUpInfo" => parse_exact::<rest::SignUpInfo>(text),
        "rest::InviteToken" => parse_exact::<rest::InviteToken>(text),
        "rest::InviteStatus" => parse_exact::<rest::InviteStatus>(text),
        "rest::NewInvite" => parse_exact::<rest::NewInvite>(text),
        "rest::CreatedInvite" => parse_exact::<rest::CreatedInvite>(text),
        "rest::InvitePage" => parse_exact::<rest::InvitePage>(text),
        "rest::NewUser" => parse_exact::<rest::NewUser>(text),
        "rest::UserEdit" => parse_exact::<rest::UserEdit>(text),
        "rest::Verify" => parse_exact::<rest::Verify>(text),
        "rest::ChangeEmail" => parse_exact::<rest::ChangeEmail>(text),
        "rest::Digests" => parse_exact::<rest::Digests>(text),
        "rest::ResetRequest" => parse_exact::<rest::ResetRequest>(text),
        "rest::ResetConfirm" => parse_exact::<rest::ResetConfirm>(text),
        "rest::MailFeatures" => parse_exact::<rest::MailFeatures>(text),
        "ErrorBody" => parse_exact::<ErrorBody>(text),
        "ClientFrame" => parse_exact::<ClientFrame>(text),
        "ServerFrame" => parse_exact::<ServerFrame>(text),
        "NewPoll" => parse_exact::<NewPoll>(text),
        "PollCreated" => parse_exact::<PollCreated>(text),
        "PollEvents" => parse_exact::<PollEvents>(text),
        "NotificationSettings" => parse_exact::<NotificationSettings>(text),
        "SetNotificationLevel" => parse_exact::<SetNotificationLevel>(text),
        "SetDoNotDisturb" => parse_exact::<SetDoNotDisturb>(text),
        "PushKey" => parse_exact::<PushKey>(text),
        "NewPushSubscription" => parse_exact::<NewPushSubscription>(text),
        "PushEndpoint" => parse_exact::<PushEndpoint>(text),
        other => Err(format!("no type {other} in the registry of tests/protocol_examples.rs")),
    }
}

#[test]
fn every_json_example_parses_into_its_type() {
    let blocks = json_blocks(PROTOCOL_MD);
    assert!(blocks.len() >= 10, "PROTOCOL.md has its examples ({} found)", blocks.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for block in &blocks {
        let result = match &block.type_name {
            Some(name) => check(name, &fill_elisions(&block.text)),
            None => Err("the block names no type (```json TypeName)".into()),
        };
        match result {
            Ok(0) => failures.push(format!("line {}: empty block", block.line)),
            Ok(n) => checked += n,
            Err(e) => failures.push(format!("line {} ({}): {e}", block.line, block.section)),
        }
    }
    assert!(failures.is_empty(), "PROTOCOL.md examples that do not parse:\n{}", failures.join("\n"));
    assert!(checked >= 3, "checked {checked} examples");
}

#[test]
fn a_wrong_example_is_caught() {
    let markdown = "## S\n```json Message\n{\"id\":\"0193…\"}\n```\n```\nX-Header: 1\n```\n```json\n{}\n```\n";
    let blocks = json_blocks(markdown);
    assert_eq!(blocks.len(), 2, "the header block is not JSON");
    assert!(check("Message", &fill_elisions(&blocks[0].text)).is_err(), "a message without its fields");
    assert_eq!(blocks[1].type_name, None);
    assert!(check("Nope", "{}").is_err());
    let misspelt = r#"{"v":1,"type":"error","ref":null,"code":"x","message":"x","field":null,"retry_after":1}"#;
    assert!(check("ServerFrame", misspelt).is_err(), "a field the frame does not have");
    assert!(check("ServerFrame", r#"{"v":2,"type":"resync"}"#).is_err(), "the wrong version");
    assert!(check("ServerFrame", r#"{"v":1,"type":"resync"}"#).is_ok());
    // A block indented under a list item is still a block, and still checked.
    let listed = "- a frame:\n\n  ```json ServerFrame\n  {\"v\":1,\"type\":\"shout\"}\n  ```\n";
    let blocks = json_blocks(listed);
    assert_eq!(blocks.len(), 1, "the indented block is found");
    assert!(check("ServerFrame", &blocks[0].text).is_err(), "and checked");
}

#[test]
fn a_response_example_with_a_field_its_type_lacks_is_caught() {
    assert_eq!(check("rest::LoggedOut", r#"{"sessions":3}"#), Ok(1));
    assert!(check("rest::LoggedOut", r#"{"sessions":3,"session":3}"#).is_err(), "a misspelt extra field");
    assert!(check("rest::Health", r#"{"status":"ok","store":null}"#).is_err(), "the server leaves it out");
}

/// The records' examples too: a misspelt optional field (`null` or absent reads as `None`)
/// would otherwise pass, as a field left out would.
#[test]
fn a_record_example_with_a_misspelt_or_missing_optional_field_is_caught() {
    let message = r#"{"id":"0193…","conversation":"5c1e…","sender":"0193…","seq":13,"body":"hello",
                      "client_id":"c-17","sent_at":1764550000123,"edited_at":null,"deleted":false}"#;
    assert_eq!(check("Message", &fill_elisions(message)), Ok(1));
    let misspelt = message.replace("edited_at", "edited");
    assert!(check("Message", &fill_elisions(&misspelt)).is_err(), "a misspelt edited_at");
    let user = r#"{"id":"0193…","username":"alice","display_name":null,"role":"user","created_at":1,
                   "disabled":false}"#;
    assert!(check("User", &fill_elisions(user)).is_err(), "last_seen left out");
    let conversation = r#"{"id":"5c1e…","kind":"group","name":"Lunch","members":[],"created_at":1}"#;
    assert!(check("Conversation", &fill_elisions(conversation)).is_err(), "owner left out");
}
