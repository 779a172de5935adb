//! Client → server frames: the commands a client sends over a WebSocket.
//!
//! A frame is a JSON object: the envelope (`type`; `v`, optional but [`PROTOCOL_VERSION`] if
//! there; `ref`, optional) and the command's own fields. [`ClientFrame::parse`] reads it in two
//! steps so that a refusal is precise: the envelope comes off first, so even a frame with bad
//! arguments gets its `ref` echoed; the remaining fields then decode into the command's
//! argument struct, which refuses unknown fields. The refusal ([`FrameError`]) carries the
//! stable code a server sends back.

use crate::errors::{InputError, InputErrorKind};
use crate::ids::{AttachmentId, ConversationId, MessageId, Seq, UserId};
use crate::reference::{Reference, REF_MAX_CHARS};
use crate::PROTOCOL_VERSION;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// One frame from a client: a command and its correlation `ref`.
///
/// Written, it is `{"v":1,"type":...,<fields>,"ref":...}` (`ref` only if given). Read, it is
/// [`ClientFrame::parse`]d; its `Deserialize` impl does the same and reports the
/// [`FrameError`]'s message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientFrame {
    /// Echoed in the reply; see [`Reference`].
    pub reference: Option<Reference>,
    /// What the client asks for.
    pub command: Command,
}

/// A command, by its `type`. See `PROTOCOL.md` ("Client → server") for what each replies.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// `send`: store a message; always acknowledged with the stored message's identity.
    Send(SendMessage),
    /// `edit`: replace a message's body.
    Edit(EditMessage),
    /// `delete`: delete a message.
    Delete(DeleteMessage),
    /// `react`: add a reaction to a message.
    React(React),
    /// `unreact`: take a reaction back.
    Unreact(React),
    /// `typing`: tell the other members.
    Typing(Typing),
    /// `read`: move the read watermark.
    Read(Mark),
    /// `delivered`: move the delivered watermark.
    Delivered(Mark),
    /// `resume`: the messages missed after each cursor.
    Resume(Resume),
    /// `watch`: whose presence to follow beyond the user's conversations.
    Watch(Watch),
    /// `ping`: answered with `pong`.
    Ping,
    /// `activity`: this device's user is at it (typed, clicked, came back to the tab); what
    /// "away" is measured by.
    Activity,
}

/// `send`'s fields.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Where.
    pub conversation: ConversationId,
    /// The sender's idempotency key: a resend with the same one is acked with the original.
    pub client_id: String,
    /// The text (may be empty with attachments).
    pub body: String,
    /// Files uploaded by the sender (`POST /api/v1/attachments`) to carry, in order: at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentId>,
    /// The seq of the message of the same conversation this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
}

/// `edit`'s fields.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The message.
    pub id: MessageId,
    /// Its new text.
    pub body: String,
}

/// `delete`'s fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteMessage {
    /// The message.
    pub id: MessageId,
}

/// `react`'s and `unreact`'s fields.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct React {
    /// The message.
    pub id: MessageId,
    /// One emoji.
    pub emoji: String,
}

/// `typing`'s fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Typing {
    /// Where.
    pub conversation: ConversationId,
}

/// `read`'s and `delivered`'s fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// Where.
    pub conversation: ConversationId,
    /// Up to which message.
    pub seq: Seq,
}

/// `resume`'s fields.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// The last seq the client has, per conversation.
    pub cursors: Vec<Cursor>,
    /// Another `resume` with more cursors follows (a long list does not fit one frame), so a
    /// `?resume=1` socket keeps holding events until the last part.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

/// `watch`'s fields.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// The users; replaces the list, unless `add`.
    pub users: Vec<UserId>,
    /// Add to the list instead of replacing it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub add: bool,
}

/// The last seq a client has in one conversation (in `resume` frames and `POST /poll`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Cursor {
    /// The conversation.
    pub conversation: ConversationId,
    /// The last seq the client has; 0 for none.
    pub seq: Seq,
}

impl<'de> Deserialize<'de> for Cursor {
    /// From a JSON object only: serde's derive would also read an array of the fields.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
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

/// A frame that could not be parsed: why, and its `ref` if that much was readable.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FrameError {
    reference: Option<Reference>,
    error: InputError,
}

impl FrameError {
    /// The `ref` the refusal echoes: the frame's, unless the frame was not an object or its
    /// `ref` itself was bad.
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// Why: the kind (its stable code), the field, a message.
    pub fn error(&self) -> &InputError {
        &self.error
    }

    /// The `ref` and the error, owned.
    pub fn into_parts(self) -> (Option<Reference>, InputError) {
        (self.reference, self.error)
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FrameError {}

impl ClientFrame {
    /// A frame without a `ref`.
    pub fn new(command: Command) -> Self {
        ClientFrame { reference: None, command }
    }

    /// The frame with `reference` as its `ref`.
    pub fn with_ref(mut self, reference: impl Into<Reference>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Parses one text frame.
    ///
    /// # Errors
    /// A [`FrameError`] with the code the server sends back (`PROTOCOL.md`, "Errors"):
    /// `invalid_json` for anything but a JSON object; `wrong_type` for a bad `ref` (and then no
    /// `ref` is echoed) or a `type` that is not a string; `unsupported_version`; `missing_field`
    /// (also for a missing `type`), `unknown_field`, `wrong_type` or `invalid_value` in the
    /// command's fields; `unknown_type`.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        let fields: Map<String, Value> = serde_json::from_str(text).map_err(|error| FrameError {
            reference: None,
            error: InputError::new(InputErrorKind::InvalidJson, None, format!("a frame is a JSON object: {error}")),
        })?;
        ClientFrame::from_fields(fields)
    }

    /// The second step of [`parse`](Self::parse): the envelope, then the command's fields.
    fn from_fields(mut fields: Map<String, Value>) -> Result<ClientFrame, FrameError> {
        let reference = Reference::from_value(fields.remove("ref").unwrap_or(Value::Null)).map_err(|()| {
            let message = format!("ref is a string of up to {REF_MAX_CHARS} characters or an integer");
            FrameError { reference: None, error: InputError::new(InputErrorKind::WrongType, Some("ref"), message) }
        })?;
        let reject = |kind, field, message: String| FrameError {
            reference: reference.clone(),
            error: InputError::new(kind, Some(field), message),
        };
        match fields.remove("v") {
            None => {}
            Some(Value::Number(v)) if v.as_u64() == Some(PROTOCOL_VERSION.into()) => {}
            Some(_) => {
                let message = format!("this server speaks protocol version {PROTOCOL_VERSION}");
                return Err(reject(InputErrorKind::UnsupportedVersion, "v", message));
            }
        }
        let kind = match fields.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(reject(InputErrorKind::WrongType, "type", "type is a string".into())),
            None => return Err(reject(InputErrorKind::MissingField, "type", "every frame has a type".into())),
        };
        let command =
            Command::from_fields(&kind, fields).map_err(|error| FrameError { reference: reference.clone(), error })?;
        Ok(ClientFrame { reference, command })
    }
}

impl Command {
    /// The command's `type`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Send(_) => "send",
            Command::Edit(_) => "edit",
            Command::Delete(_) => "delete",
            Command::React(_) => "react",
            Command::Unreact(_) => "unreact",
            Command::Typing(_) => "typing",
            Command::Read(_) => "read",
            Command::Delivered(_) => "delivered",
            Command::Resume(_) => "resume",
            Command::Watch(_) => "watch",
            Command::Ping => "ping",
            Command::Activity => "activity",
        }
    }

    /// The command named `kind`, from the frame's other fields.
    fn from_fields(kind: &str, fields: Map<String, Value>) -> Result<Command, InputError> {
        Ok(match kind {
            "send" => Command::Send(args(fields)?),
            "edit" => Command::Edit(args(fields)?),
            "delete" => Command::Delete(args(fields)?),
            "react" => Command::React(args(fields)?),
            "unreact" => Command::Unreact(args(fields)?),
            "typing" => Command::Typing(args(fields)?),
            "read" => Command::Read(args(fields)?),
            "delivered" => Command::Delivered(args(fields)?),
            "resume" => Command::Resume(args(fields)?),
            "watch" => Command::Watch(args(fields)?),
            "ping" => {
                args::<NoFields>(fields)?;
                Command::Ping
            }
            "activity" => {
                args::<NoFields>(fields)?;
                Command::Activity
            }
            other => {
                let shown: String = other.chars().take(32).collect();
                let message = format!("unknown frame type {shown:?}");
                return Err(InputError::new(InputErrorKind::UnknownType, Some("type"), message));
            }
        })
    }
}

/// A command without fields (`ping`, `activity`): anything but the envelope is unknown.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

fn args<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, InputError> {
    serde_json::from_value(Value::Object(fields)).map_err(|e| InputError::from_json(&e))
}

impl Serialize for ClientFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            v: u32,
            #[serde(flatten)]
            command: &'a Command,
            #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
            reference: Option<&'a Reference>,
        }
        Wire { v: PROTOCOL_VERSION, command: &self.command, reference: self.reference.as_ref() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClientFrame {
    /// As [`ClientFrame::parse`]; the error carries its message only.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = Map::<String, Value>::deserialize(deserializer)?;
        ClientFrame::from_fields(fields).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(text: &str) -> (&'static str, Option<String>, Option<Reference>) {
        let (reference, error) = ClientFrame::parse(text).unwrap_err().into_parts();
        (error.code(), error.field().map(str::to_owned), reference)
    }

    #[test]
    fn every_command_reads_back_as_written() {
        let (c, m, u) = (ConversationId(uuid::Uuid::nil()), MessageId(uuid::Uuid::max()), UserId(uuid::Uuid::nil()));
        let commands = [
            Command::Send(SendMessage {
                conversation: c,
                client_id: "a".into(),
                body: "hi".into(),
                attachments: vec![],
                reply_to: Some(Seq(3)),
            }),
            Command::Edit(EditMessage { id: m, body: "hi!".into() }),
            Command::Delete(DeleteMessage { id: m }),
            Command::React(React { id: m, emoji: "👍".into() }),
            Command::Unreact(React { id: m, emoji: "👍".into() }),
            Command::Typing(Typing { conversation: c }),
            Command::Read(Mark { conversation: c, seq: Seq(4) }),
            Command::Delivered(Mark { conversation: c, seq: Seq(5) }),
            Command::Resume(Resume { cursors: vec![Cursor { conversation: c, seq: Seq(2) }], more: true }),
            Command::Watch(Watch { users: vec![u], add: false }),
            Command::Ping,
            Command::Activity,
        ];
        for command in commands {
            for frame in [ClientFrame::new(command.clone()), ClientFrame::new(command).with_ref(7u64)] {
                let text = serde_json::to_string(&frame).unwrap();
                assert!(text.contains(&format!(r#""type":"{}""#, frame.command.kind())), "{text}");
                assert_eq!(ClientFrame::parse(&text).unwrap(), frame, "{text}");
                assert_eq!(serde_json::from_str::<ClientFrame>(&text).unwrap(), frame, "{text}");
            }
        }
    }

    #[test]
    fn written_frames_carry_the_version_and_only_a_given_ref() {
        let ping = serde_json::to_value(ClientFrame::new(Command::Ping)).unwrap();
        assert_eq!(ping, json!({"v": 1, "type": "ping"}));
        let ping = serde_json::to_value(ClientFrame::new(Command::Ping).with_ref("p")).unwrap();
        assert_eq!(ping, json!({"v": 1, "type": "ping", "ref": "p"}));
    }

    #[test]
    fn the_envelope_is_optional_but_checked() {
        assert_eq!(ClientFrame::parse(r#"{"type":"ping"}"#).unwrap().command, Command::Ping);
        assert_eq!(ClientFrame::parse(r#"{"type":"ping","v":1,"ref":null}"#).unwrap().reference, None);
        assert_eq!(code(r#"{"type":"ping","v":1.0}"#).0, "unsupported_version");
        assert_eq!(
            code(r#"{"type":"ping","v":"1","ref":"r"}"#),
            ("unsupported_version", Some("v".into()), Some("r".into()))
        );
    }
}
