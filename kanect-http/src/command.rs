//! Client frames: parsed into a [`Command`] (the wire form is `kanect-proto`'s, which refuses
//! anything malformed or left over), then applied to the engine for one device — the same two
//! steps for every frame type.
//!
//! Commands come in two kinds, and the type says which: an [`EngineCommand`] acts as the caller
//! and may run alongside others; a [`SubscriptionCommand`] (`resume`, `watch`) works on the
//! device's subscription itself, so the socket loop that owns the subscription applies it, one
//! at a time.

use crate::error::ApiError;
use crate::wire::{ToCore, ToWire};
use hyper::StatusCode;
use kanect_core::{
    AttachmentId, Caller, Chat, ConversationId, Error, MessageId, Outgoing, ReceiptKind, Seq, Subscription, UserId,
};
use kanect_proto::{self as proto, Ack, ClientFrame, Reference, ServerFrame};

/// One command from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Applied as the caller, alongside other commands.
    Engine(EngineCommand),
    /// Applied to the device's subscription, by the socket loop, one at a time.
    Subscription(SubscriptionCommand),
}

/// A command that acts as the caller and needs nothing of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineCommand {
    Send {
        conversation: ConversationId,
        client_id: String,
        body: String,
        attachments: Vec<AttachmentId>,
        reply_to: Option<Seq>,
    },
    Edit {
        id: MessageId,
        body: String,
    },
    Delete {
        id: MessageId,
    },
    /// `react` (`add`) and `unreact`.
    React {
        id: MessageId,
        emoji: String,
        add: bool,
    },
    Typing {
        conversation: ConversationId,
    },
    Mark {
        conversation: ConversationId,
        kind: ReceiptKind,
        seq: Seq,
    },
    Ping,
}

/// A command that works on the device's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubscriptionCommand {
    /// `more`: further `resume` frames follow with the rest of the cursors (a long list does
    /// not fit one frame), so a `?resume=1` socket keeps holding events until the last.
    Resume { cursors: Vec<(ConversationId, Seq)>, more: bool },
    /// `add`: add to the list instead of replacing it.
    Watch { users: Vec<UserId>, add: bool },
    /// The device's user is at it (see the engine's presence docs, "Away").
    Activity,
}

/// A parsed frame: the command and the client's correlation `ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) reference: Option<Reference>,
    pub(crate) command: Command,
}

/// A frame that could not be parsed, with its `ref` if that much was readable.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub(crate) reference: Option<Reference>,
    pub(crate) error: ApiError,
}

/// Parses one text frame. (The refusal is boxed: it is the rare case, and large.)
pub(crate) fn parse(text: &str) -> Result<Frame, Box<Rejected>> {
    let ClientFrame { reference, command } = ClientFrame::parse(text).map_err(|rejected| {
        let (reference, error) = rejected.into_parts();
        Box::new(Rejected { reference, error: ApiError::from(error) })
    })?;
    let command = match command {
        proto::Command::Send(proto::SendMessage { conversation, client_id, body, attachments, reply_to }) => {
            let attachments = attachments.iter().map(ToCore::to_core).collect();
            let conversation = conversation.to_core();
            let reply_to = reply_to.map(|seq| seq.to_core());
            Command::Engine(EngineCommand::Send { conversation, client_id, body, attachments, reply_to })
        }
        proto::Command::React(proto::React { id, emoji }) => {
            Command::Engine(EngineCommand::React { id: id.to_core(), emoji, add: true })
        }
        proto::Command::Unreact(proto::React { id, emoji }) => {
            Command::Engine(EngineCommand::React { id: id.to_core(), emoji, add: false })
        }
        proto::Command::Edit(proto::EditMessage { id, body }) => {
            Command::Engine(EngineCommand::Edit { id: id.to_core(), body })
        }
        proto::Command::Delete(proto::DeleteMessage { id }) => {
            Command::Engine(EngineCommand::Delete { id: id.to_core() })
        }
        proto::Command::Typing(proto::Typing { conversation }) => {
            Command::Engine(EngineCommand::Typing { conversation: conversation.to_core() })
        }
        proto::Command::Read(mark) => Command::Engine(EngineCommand::mark(mark, ReceiptKind::Read)),
        proto::Command::Delivered(mark) => Command::Engine(EngineCommand::mark(mark, ReceiptKind::Delivered)),
        proto::Command::Resume(proto::Resume { cursors, more }) => {
            let cursors = cursors.iter().map(|c| (c.conversation.to_core(), c.seq.to_core())).collect();
            Command::Subscription(SubscriptionCommand::Resume { cursors, more })
        }
        proto::Command::Watch(proto::Watch { users, add }) => {
            let users = users.iter().map(ToCore::to_core).collect();
            Command::Subscription(SubscriptionCommand::Watch { users, add })
        }
        proto::Command::Ping => Command::Engine(EngineCommand::Ping),
        proto::Command::Activity => Command::Subscription(SubscriptionCommand::Activity),
        // A command the protocol crate knows and this server does not yet serve.
        other => {
            let message = format!("this server does not serve {:?} frames", other.kind());
            let error = ApiError::new(StatusCode::BAD_REQUEST, "unknown_type", message).with_field("type");
            return Err(Box::new(Rejected { reference, error }));
        }
    };
    Ok(Frame { reference, command })
}

impl EngineCommand {
    fn mark(mark: proto::Mark, kind: ReceiptKind) -> Self {
        EngineCommand::Mark { conversation: mark.conversation.to_core(), kind, seq: mark.seq.to_core() }
    }

    /// Applies the command as `caller`. Returns the reply frame, if the command has one (see
    /// `PROTOCOL.md`).
    ///
    /// # Errors
    /// The engine's error for the command; nothing was changed.
    pub(crate) async fn apply(
        self,
        chat: &Chat,
        caller: &Caller,
        reference: Option<Reference>,
    ) -> Result<Option<ServerFrame>, Error> {
        match self {
            EngineCommand::Send { conversation, client_id, body, attachments, reply_to } => {
                let outgoing = Outgoing { client_id: &client_id, body: &body, attachments: &attachments, reply_to };
                let message = chat.send_message(caller, conversation, outgoing).await?;
                return Ok(Some(ServerFrame::Ack(Ack::Sent {
                    reference,
                    client_id: message.client_id,
                    id: message.id.to_wire(),
                    conversation: message.conversation.to_wire(),
                    seq: message.seq.to_wire(),
                    sent_at: message.sent_at.to_wire(),
                })));
            }
            EngineCommand::Ping => return Ok(Some(ServerFrame::Pong { reference })),
            EngineCommand::Edit { id, body } => drop(chat.edit(caller, id, &body).await?),
            EngineCommand::Delete { id } => drop(chat.delete(caller, id).await?),
            EngineCommand::React { id, emoji, add } => drop(chat.react(caller, id, &emoji, add).await?),
            EngineCommand::Typing { conversation } => chat.typing(caller, conversation).await?,
            EngineCommand::Mark { conversation, kind, seq } => drop(chat.mark(caller, conversation, kind, seq).await?),
        }
        Ok(plain_ack(reference))
    }
}

impl SubscriptionCommand {
    /// Whether this is the last part of a `resume`: once applied, a `?resume=1` socket stops
    /// holding events.
    pub(crate) fn ends_a_resume(&self) -> bool {
        matches!(self, SubscriptionCommand::Resume { more: false, .. })
    }

    /// Applies the command to the device behind `subscription`. Returns the reply frame, if
    /// the command has one (see `PROTOCOL.md`).
    ///
    /// # Errors
    /// The engine's error for the command; nothing was changed.
    pub(crate) async fn apply(
        self,
        subscription: &mut Subscription,
        reference: Option<Reference>,
    ) -> Result<Option<ServerFrame>, Error> {
        match self {
            SubscriptionCommand::Resume { cursors, .. } => {
                let resumed = subscription.resume(cursors).await?;
                let skipped = resumed.skipped.iter().map(ToWire::to_wire).collect();
                return Ok(reference.is_some().then_some(ServerFrame::Ack(Ack::Resumed { reference, skipped })));
            }
            SubscriptionCommand::Watch { users, add: false } => subscription.watch_presence(users)?,
            SubscriptionCommand::Watch { users, add: true } => subscription.watch_more_presence(users)?,
            SubscriptionCommand::Activity => subscription.mark_active().await,
        }
        Ok(plain_ack(reference))
    }
}

/// The `ack` of a command without a reply of its own: only if it had a `ref`.
fn plain_ack(reference: Option<Reference>) -> Option<ServerFrame> {
    reference.is_some().then_some(ServerFrame::Ack(Ack::Done { reference }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> (&'static str, Option<String>, Option<Reference>) {
        let rejected = parse(text).unwrap_err();
        (rejected.error.code, rejected.error.field, rejected.reference)
    }

    #[test]
    fn parses_every_command() {
        let c = ConversationId::new();
        let frame =
            parse(&format!(r#"{{"v":1,"type":"send","conversation":"{c}","client_id":"a","body":"hi","ref":"r"}}"#))
                .unwrap();
        assert_eq!(frame.reference, Some(Reference::from("r")));
        let send = EngineCommand::Send {
            conversation: c,
            client_id: "a".into(),
            body: "hi".into(),
            attachments: vec![],
            reply_to: None,
        };
        assert_eq!(frame.command, Command::Engine(send));
        let m = MessageId::new();
        let frame =
            parse(&format!(r#"{{"type":"send","conversation":"{c}","client_id":"b","body":"yes","reply_to":3}}"#));
        assert!(matches!(frame.unwrap().command, Command::Engine(EngineCommand::Send { reply_to: Some(Seq(3)), .. })));
        let frame = parse(&format!(r#"{{"type":"react","id":"{m}","emoji":"👍"}}"#)).unwrap();
        let react = EngineCommand::React { id: m, emoji: "👍".into(), add: true };
        assert_eq!(frame.command, Command::Engine(react));
        let frame = parse(&format!(r#"{{"type":"unreact","id":"{m}","emoji":"👍"}}"#)).unwrap();
        let unreact = EngineCommand::React { id: m, emoji: "👍".into(), add: false };
        assert_eq!(frame.command, Command::Engine(unreact));
        assert_eq!(code(&format!(r#"{{"type":"react","id":"{m}"}}"#)).0, "missing_field");
        let negative = format!(r#"{{"type":"send","conversation":"{c}","client_id":"b","body":"x","reply_to":-1}}"#);
        assert_eq!(code(&negative).0, "invalid_value");
        let frame = parse(&format!(r#"{{"type":"read","conversation":"{c}","seq":4}}"#)).unwrap();
        let mark = EngineCommand::Mark { conversation: c, kind: ReceiptKind::Read, seq: Seq(4) };
        assert_eq!(frame.command, Command::Engine(mark));
        let frame = parse(&format!(r#"{{"type":"resume","cursors":[{{"conversation":"{c}","seq":2}}]}}"#)).unwrap();
        let resume = SubscriptionCommand::Resume { cursors: vec![(c, Seq(2))], more: false };
        assert_eq!(frame.command, Command::Subscription(resume));
        assert_eq!(parse(r#"{"type":"ping","ref":7}"#).unwrap().reference, Some(Reference::from(7i64)));
        assert_eq!(
            parse(r#"{"type":"watch","users":[]}"#).unwrap().command,
            Command::Subscription(SubscriptionCommand::Watch { users: vec![], add: false })
        );
        let more = parse(r#"{"type":"watch","users":[],"add":true}"#).unwrap().command;
        assert_eq!(more, Command::Subscription(SubscriptionCommand::Watch { users: vec![], add: true }));
    }

    /// serde's derive reads a struct from an array of its fields too: `[conversation, seq]`
    /// was a cursor (in `resume` frames and `POST /poll` bodies).
    #[test]
    fn a_cursor_is_an_object_not_an_array_of_fields() {
        let c = ConversationId::new();
        let frame = format!(r#"{{"type":"resume","cursors":[["{c}",2]],"ref":"r"}}"#);
        assert_eq!(code(&frame), ("wrong_type", None, Some(Reference::from("r"))));
        let frame = format!(r#"{{"type":"resume","cursors":[{{"conversation":"{c}","seq":2,"x":1}}]}}"#);
        assert_eq!(code(&frame).1, Some("x".into()));
        let frame = format!(r#"{{"type":"resume","cursors":[{{"conversation":"{c}"}}]}}"#);
        assert_eq!(code(&frame), ("missing_field", Some("seq".into()), None));
    }

    #[test]
    fn rejects_with_precise_codes_and_keeps_the_ref() {
        assert_eq!(code("not json").0, "invalid_json");
        assert_eq!(code("[1,2]").0, "invalid_json");
        assert_eq!(code(r#"{"ref":"r"}"#), ("missing_field", Some("type".into()), Some(Reference::from("r"))));
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
