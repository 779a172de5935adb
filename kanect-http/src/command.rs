//! Client frames: parsed into a [`Command`] (reject anything malformed or left over), then
//! applied to the engine for one device — the same two steps for every frame type.
//!
//! Parsing is two-step so that errors are precise: the envelope (`v`, `type`, `ref`) is taken
//! off first, so even a frame with bad arguments gets its `ref` echoed; the remaining fields
//! then decode into the type's argument struct, which refuses unknown fields.

use crate::error::ApiError;
use hyper::StatusCode;
use kanect_core::{
    Caller, Chat, ConversationId, Error, Invalid, MessageId, ReceiptKind, Resumed, Seq, Subscription, UserId,
    PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Longest `ref` string a client may attach.
const REF_MAX: usize = 64;

/// One command from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Send {
        conversation: ConversationId,
        client_id: String,
        body: String,
    },
    Edit {
        id: MessageId,
        body: String,
    },
    Delete {
        id: MessageId,
    },
    Typing {
        conversation: ConversationId,
    },
    Mark {
        conversation: ConversationId,
        kind: ReceiptKind,
        seq: Seq,
    },
    /// `more`: further `resume` frames follow with the rest of the cursors (a long list does
    /// not fit one frame), so a `?resume=1` socket keeps holding events until the last.
    Resume {
        cursors: Vec<Cursor>,
        more: bool,
    },
    /// `add`: add to the list instead of replacing it.
    Watch {
        users: Vec<UserId>,
        add: bool,
    },
    Ping,
}

/// The last seq a device has in one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) conversation: ConversationId,
    pub(crate) seq: Seq,
}

impl<'de> Deserialize<'de> for Cursor {
    /// From a JSON object only: serde's derive would also read an array of the fields.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            conversation: ConversationId,
            seq: Seq,
        }
        let object = Map::<String, Value>::deserialize(deserializer)?;
        let Fields { conversation, seq } =
            Fields::deserialize(Value::Object(object)).map_err(serde::de::Error::custom)?;
        Ok(Cursor { conversation, seq })
    }
}

/// A parsed frame: the command and the client's correlation `ref`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub(crate) reference: Option<Value>,
    pub(crate) command: Command,
}

/// A frame that could not be parsed, with its `ref` if that much was readable.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub(crate) reference: Option<Value>,
    pub(crate) error: ApiError,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendArgs {
    conversation: ConversationId,
    client_id: String,
    body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditArgs {
    id: MessageId,
    body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: MessageId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversationArgs {
    conversation: ConversationId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkArgs {
    conversation: ConversationId,
    seq: Seq,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeArgs {
    cursors: Vec<Cursor>,
    /// More cursors follow in another `resume`.
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchArgs {
    users: Vec<UserId>,
    /// Add to the list instead of replacing it.
    #[serde(default)]
    add: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

fn bad(code: &'static str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
}

/// Parses one text frame.
pub(crate) fn parse(text: &str) -> Result<Frame, Rejected> {
    let mut fields: Map<String, Value> = serde_json::from_str(text).map_err(|error| Rejected {
        reference: None,
        error: ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("a frame is a JSON object: {error}")),
    })?;
    let reference = match fields.remove("ref") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= REF_MAX => Some(Value::String(s)),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
        Some(_) => {
            let error =
                bad("wrong_type", "ref", format!("ref is a string of up to {REF_MAX} characters or an integer"));
            return Err(Rejected { reference: None, error });
        }
    };
    let reject = |error: ApiError| Rejected { reference: reference.clone(), error };
    match fields.remove("v") {
        None => {}
        Some(v) if v == json!(PROTOCOL_VERSION) => {}
        Some(_) => return Err(reject(bad("unsupported_version", "v", "this server speaks protocol version 1"))),
    }
    let kind = match fields.remove("type") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(reject(bad("wrong_type", "type", "type is a string"))),
        None => return Err(reject(bad("missing_field", "type", "every frame has a type"))),
    };
    let command = command(&kind, fields).map_err(reject)?;
    Ok(Frame { reference, command })
}

fn args<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(fields)).map_err(|e| ApiError::from_json(&e))
}

fn command(kind: &str, fields: Map<String, Value>) -> Result<Command, ApiError> {
    Ok(match kind {
        "send" => {
            let SendArgs { conversation, client_id, body } = args(fields)?;
            Command::Send { conversation, client_id, body }
        }
        "edit" => {
            let EditArgs { id, body } = args(fields)?;
            Command::Edit { id, body }
        }
        "delete" => Command::Delete { id: args::<IdArgs>(fields)?.id },
        "typing" => Command::Typing { conversation: args::<ConversationArgs>(fields)?.conversation },
        "read" | "delivered" => {
            let MarkArgs { conversation, seq } = args(fields)?;
            let kind = if kind == "read" { ReceiptKind::Read } else { ReceiptKind::Delivered };
            Command::Mark { conversation, kind, seq }
        }
        "resume" => {
            let ResumeArgs { cursors, more } = args(fields)?;
            Command::Resume { cursors, more }
        }
        "watch" => {
            let WatchArgs { users, add } = args(fields)?;
            Command::Watch { users, add }
        }
        "ping" => {
            args::<NoArgs>(fields)?;
            Command::Ping
        }
        other => {
            let shown: String = other.chars().take(32).collect();
            return Err(bad("unknown_type", "type", format!("unknown frame type {shown:?}")));
        }
    })
}

impl Frame {
    /// Whether the command works on the device's subscription itself (`resume`, `watch`), so
    /// it must be applied by the socket loop rather than alongside it.
    pub(crate) fn needs_subscription(&self) -> bool {
        matches!(self.command, Command::Resume { .. } | Command::Watch { .. })
    }

    /// Applies the command for the device behind `subscription`. Returns the reply frame, if
    /// the command has one (see `PROTOCOL.md`).
    ///
    /// # Errors
    /// The engine's error for the command; nothing was changed.
    pub(crate) async fn apply(self, chat: &Chat, subscription: &mut Subscription) -> Result<Option<String>, Error> {
        let reference = self.reference;
        match self.command {
            Command::Resume { cursors, .. } => {
                let resumed = subscription.resume(cursors.into_iter().map(|c| (c.conversation, c.seq))).await?;
                let frame = json!({
                    "v": PROTOCOL_VERSION, "type": "ack", "ref": reference, "skipped": skipped(&resumed),
                });
                return Ok(reference.is_some().then(|| frame.to_string()));
            }
            Command::Watch { users, add: false } => subscription.watch_presence(users)?,
            Command::Watch { users, add: true } => subscription.watch_more_presence(users)?,
            command => return Frame { reference, command }.apply_as(chat, subscription.caller()).await,
        }
        Ok(reference.is_some().then(|| plain_ack(reference.as_ref())))
    }

    /// Applies a command that does not need the subscription (see
    /// [`Frame::needs_subscription`]) as `caller`; `resume` and `watch` are refused.
    ///
    /// # Errors
    /// The engine's error for the command; nothing was changed.
    pub(crate) async fn apply_as(self, chat: &Chat, caller: &Caller) -> Result<Option<String>, Error> {
        let reference = self.reference;
        match self.command {
            Command::Send { conversation, client_id, body } => {
                let message = chat.send(caller, conversation, &client_id, &body).await?;
                let frame = json!({
                    "v": PROTOCOL_VERSION, "type": "ack", "ref": reference, "client_id": message.client_id,
                    "id": message.id, "conversation": message.conversation, "seq": message.seq,
                    "sent_at": message.sent_at,
                });
                return Ok(Some(frame.to_string()));
            }
            Command::Ping => {
                return Ok(Some(json!({"v": PROTOCOL_VERSION, "type": "pong", "ref": reference}).to_string()));
            }
            Command::Edit { id, body } => drop(chat.edit(caller, id, &body).await?),
            Command::Delete { id } => drop(chat.delete(caller, id).await?),
            Command::Typing { conversation } => chat.typing(caller, conversation).await?,
            Command::Mark { conversation, kind, seq } => drop(chat.mark(caller, conversation, kind, seq).await?),
            Command::Resume { .. } | Command::Watch { .. } => {
                return Err(Error::invalid("type", Invalid::Malformed));
            }
        }
        Ok(reference.is_some().then(|| plain_ack(reference.as_ref())))
    }
}

/// The cursors a resume skipped, as the wire shows them: `[{"conversation","code"}]`.
pub(crate) fn skipped(resumed: &Resumed) -> Value {
    let skipped: Vec<Value> = resumed
        .skipped
        .iter()
        .map(|cursor| json!({"conversation": cursor.conversation, "code": cursor.reason.code()}))
        .collect();
    Value::Array(skipped)
}

fn plain_ack(reference: Option<&Value>) -> String {
    json!({"v": PROTOCOL_VERSION, "type": "ack", "ref": reference}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> (&'static str, Option<String>, Option<Value>) {
        let rejected = parse(text).unwrap_err();
        (rejected.error.code, rejected.error.field, rejected.reference)
    }

    #[test]
    fn parses_every_command() {
        let c = ConversationId::new();
        let frame =
            parse(&format!(r#"{{"v":1,"type":"send","conversation":"{c}","client_id":"a","body":"hi","ref":"r"}}"#))
                .unwrap();
        assert_eq!(frame.reference, Some(json!("r")));
        assert_eq!(frame.command, Command::Send { conversation: c, client_id: "a".into(), body: "hi".into() });
        let frame = parse(&format!(r#"{{"type":"read","conversation":"{c}","seq":4}}"#)).unwrap();
        assert_eq!(frame.command, Command::Mark { conversation: c, kind: ReceiptKind::Read, seq: Seq(4) });
        let frame = parse(&format!(r#"{{"type":"resume","cursors":[{{"conversation":"{c}","seq":2}}]}}"#)).unwrap();
        assert_eq!(
            frame.command,
            Command::Resume { cursors: vec![Cursor { conversation: c, seq: Seq(2) }], more: false }
        );
        assert_eq!(parse(r#"{"type":"ping","ref":7}"#).unwrap().reference, Some(json!(7)));
        assert_eq!(
            parse(r#"{"type":"watch","users":[]}"#).unwrap().command,
            Command::Watch { users: vec![], add: false }
        );
        let more = parse(r#"{"type":"watch","users":[],"add":true}"#).unwrap().command;
        assert_eq!(more, Command::Watch { users: vec![], add: true });
    }

    /// serde's derive reads a struct from an array of its fields too: `[conversation, seq]`
    /// was a cursor (in `resume` frames and `POST /poll` bodies).
    #[test]
    fn a_cursor_is_an_object_not_an_array_of_fields() {
        let c = ConversationId::new();
        let frame = format!(r#"{{"type":"resume","cursors":[["{c}",2]],"ref":"r"}}"#);
        assert_eq!(code(&frame), ("wrong_type", None, Some(json!("r"))));
        let frame = format!(r#"{{"type":"resume","cursors":[{{"conversation":"{c}","seq":2,"x":1}}]}}"#);
        assert_eq!(code(&frame).1, Some("x".into()));
        let frame = format!(r#"{{"type":"resume","cursors":[{{"conversation":"{c}"}}]}}"#);
        assert_eq!(code(&frame), ("missing_field", Some("seq".into()), None));
    }

    #[test]
    fn rejects_with_precise_codes_and_keeps_the_ref() {
        assert_eq!(code("not json").0, "invalid_json");
        assert_eq!(code("[1,2]").0, "invalid_json");
        assert_eq!(code(r#"{"ref":"r"}"#), ("missing_field", Some("type".into()), Some(json!("r"))));
        assert_eq!(code(r#"{"type":"shout","ref":"r"}"#).0, "unknown_type");
        assert_eq!(code(r#"{"type":"ping","v":2}"#).0, "unsupported_version");
        assert_eq!(code(r#"{"type":"ping","extra":1}"#).1, Some("extra".into()));
        assert_eq!(code(r#"{"type":"typing"}"#), ("missing_field", Some("conversation".into()), None));
        let c = ConversationId::new();
        assert_eq!(code(&format!(r#"{{"type":"read","conversation":"{c}","seq":"one"}}"#)).0, "wrong_type");
        assert_eq!(code(r#"{"type":"typing","conversation":"not-an-id"}"#).0, "invalid_value");
        assert_eq!(code(r#"{"type":"ping","ref":{"a":1}}"#).1, Some("ref".into()));
        assert_eq!(code(r#"{"type":7}"#).0, "wrong_type");
    }

    #[test]
    fn a_cursor_is_an_object_and_its_errors_name_the_field() {
        let c = ConversationId::new();
        let resume = |cursor: &str| code(&format!(r#"{{"type":"resume","cursors":[{cursor}]}}"#));
        assert_eq!(resume(&format!(r#"["{c}",2]"#)).0, "wrong_type");
        assert_eq!(resume(&format!(r#"{{"conversation":"{c}"}}"#)).0, "missing_field");
        assert_eq!(resume(&format!(r#"{{"conversation":"{c}"}}"#)).1, Some("seq".into()));
        assert_eq!(resume(&format!(r#"{{"conversation":"{c}","seq":1,"x":0}}"#)).1, Some("x".into()));
        assert_eq!(resume(&format!(r#"{{"conversation":"{c}","seq":"one"}}"#)).0, "wrong_type");
    }
}
