//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`): the crate's own
//! parsers of untrusted input, reachable from outside without making them part of the API.
//!
//! Every function here calls the function the server calls; the only code of its own is
//! [`Frame::to_text`], the inverse of the frame parser (through `kanect-proto`'s client frame),
//! which the targets use to check that an accepted frame means what it says. Not for
//! applications: nothing here is stable.

use crate::api::request;
use crate::auth;
use crate::command::{self, Command, EngineCommand, SubscriptionCommand};
use crate::error::ApiError;
use crate::wire::ToWire;
use hyper::header::HeaderValue;
use hyper::HeaderMap;
use kanect_core::ReceiptKind;
use kanect_proto::rest;
use kanect_proto::{self as proto, ClientFrame, Reference};
use serde_json::Value;

/// Why an input was refused: the stable code and field the client would be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The machine code (`PROTOCOL.md`, "Errors").
    pub code: &'static str,
    /// The field it names, if any.
    pub field: Option<String>,
}

impl From<ApiError> for Rejection {
    fn from(error: ApiError) -> Self {
        Rejection { code: error.code, field: error.field }
    }
}

/// A WebSocket frame the server accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    frame: command::Frame,
    /// The `ref` as JSON, as the targets compare it with their input.
    reference: Option<Value>,
}

/// A WebSocket frame the server refused, with the `ref` its error frame echoes.
#[derive(Debug)]
pub struct RejectedFrame {
    /// The code and field of the error frame.
    pub rejection: Rejection,
    /// The `ref` echoed back, if that much was readable.
    pub reference: Option<Value>,
}

/// Parses one text frame as the socket loop does.
pub fn parse_frame(text: &str) -> Result<Frame, RejectedFrame> {
    match command::parse(text) {
        Ok(frame) => Ok(Frame { reference: json(frame.reference.as_ref()), frame }),
        Err(rejected) => {
            let command::Rejected { reference, error } = *rejected;
            Err(RejectedFrame { reference: json(reference.as_ref()), rejection: error.into() })
        }
    }
}

fn json(reference: Option<&Reference>) -> Option<Value> {
    reference.map(|reference| serde_json::to_value(reference).unwrap_or_default())
}

impl Frame {
    /// The client's `ref`, echoed in the reply.
    pub fn reference(&self) -> Option<&Value> {
        self.reference.as_ref()
    }

    /// The frame written back out as a client would send it (`PROTOCOL.md`).
    pub fn to_text(&self) -> String {
        let command = match &self.frame.command {
            Command::Engine(EngineCommand::Send { conversation, client_id, body, attachments, reply_to }) => {
                proto::Command::Send(proto::SendMessage {
                    conversation: conversation.to_wire(),
                    client_id: client_id.clone(),
                    body: body.clone(),
                    attachments: attachments.iter().map(ToWire::to_wire).collect(),
                    reply_to: reply_to.map(|seq| seq.to_wire()),
                })
            }
            Command::Engine(EngineCommand::React { id, emoji, add }) => {
                let react = proto::React { id: id.to_wire(), emoji: emoji.clone() };
                if *add {
                    proto::Command::React(react)
                } else {
                    proto::Command::Unreact(react)
                }
            }
            Command::Engine(EngineCommand::Edit { id, body }) => {
                proto::Command::Edit(proto::EditMessage { id: id.to_wire(), body: body.clone() })
            }
            Command::Engine(EngineCommand::Delete { id }) => {
                proto::Command::Delete(proto::DeleteMessage { id: id.to_wire() })
            }
            Command::Engine(EngineCommand::Typing { conversation }) => {
                proto::Command::Typing(proto::Typing { conversation: conversation.to_wire() })
            }
            Command::Engine(EngineCommand::Mark { conversation, kind, seq }) => {
                let mark = proto::Mark { conversation: conversation.to_wire(), seq: seq.to_wire() };
                match kind {
                    ReceiptKind::Read => proto::Command::Read(mark),
                    ReceiptKind::Delivered => proto::Command::Delivered(mark),
                }
            }
            Command::Engine(EngineCommand::Ping) => proto::Command::Ping,
            Command::Subscription(SubscriptionCommand::Resume { cursors, more }) => {
                let cursors = cursors
                    .iter()
                    .map(|(conversation, seq)| proto::Cursor {
                        conversation: conversation.to_wire(),
                        seq: seq.to_wire(),
                    })
                    .collect();
                proto::Command::Resume(proto::Resume { cursors, more: *more })
            }
            Command::Subscription(SubscriptionCommand::Watch { users, add }) => {
                proto::Command::Watch(proto::Watch { users: users.iter().map(ToWire::to_wire).collect(), add: *add })
            }
            Command::Subscription(SubscriptionCommand::Activity) => proto::Command::Activity,
        };
        let frame = ClientFrame { reference: self.frame.reference.clone(), command };
        serde_json::to_string(&frame).unwrap_or_default()
    }
}

/// The JSON request bodies of the REST API, by the request struct that reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestBody {
    /// `POST /auth/signup`.
    SignUp,
    /// `POST /auth/login`.
    LogIn,
    /// `PUT /admin/users/{id}/disabled`.
    Disabled,
    /// `PUT /admin/users/{id}/role`.
    SetRole,
    /// `POST /admin/users/{id}/password`.
    Password,
    /// `POST /conversations/direct` and `POST /conversations/{id}/members`.
    UserRef,
    /// `POST /conversations`.
    NewGroup,
    /// `PATCH /conversations/{id}`.
    Rename,
    /// `POST /conversations/{id}/messages`.
    Send,
    /// `PATCH /messages/{id}`.
    Edit,
    /// `POST /conversations/{id}/receipts`.
    Mark,
    /// `POST /poll` (an empty body is allowed).
    NewPoll,
}

impl RestBody {
    /// Every body, for targets that pick one.
    pub const ALL: [RestBody; 12] = [
        RestBody::SignUp,
        RestBody::LogIn,
        RestBody::Disabled,
        RestBody::SetRole,
        RestBody::Password,
        RestBody::UserRef,
        RestBody::NewGroup,
        RestBody::Rename,
        RestBody::Send,
        RestBody::Edit,
        RestBody::Mark,
        RestBody::NewPoll,
    ];

    /// Reads `bytes` as this body, as its handler does once the size limit has passed.
    pub fn parse(self, bytes: &[u8]) -> Result<(), Rejection> {
        use request::{parse_json as json, parse_optional_json};
        let parsed = match self {
            RestBody::SignUp => json::<rest::SignUp>(bytes).map(drop),
            RestBody::LogIn => json::<rest::LogIn>(bytes).map(drop),
            RestBody::Disabled => json::<rest::Disabled>(bytes).map(drop),
            RestBody::SetRole => json::<rest::SetRole>(bytes).map(drop),
            RestBody::Password => json::<rest::Password>(bytes).map(drop),
            RestBody::UserRef => json::<rest::UserRef>(bytes).map(drop),
            RestBody::NewGroup => json::<rest::NewGroup>(bytes).map(drop),
            RestBody::Rename => json::<rest::Rename>(bytes).map(drop),
            RestBody::Send => json::<rest::Send>(bytes).map(drop),
            RestBody::Edit => json::<rest::Edit>(bytes).map(drop),
            RestBody::Mark => json::<rest::Mark>(bytes).map(drop),
            RestBody::NewPoll => parse_optional_json::<proto::NewPoll>(bytes).map(drop),
        };
        parsed.map_err(Rejection::from)
    }
}

/// The session token a request presents, and whether it came from the cookie (bearer first).
pub fn presented_token(headers: &HeaderMap) -> Option<(String, bool)> {
    auth::presented_token(headers)
}

/// The CSRF check of a cookie session changing state.
pub fn check_csrf(headers: &HeaderMap, session_token: &str) -> Result<(), Rejection> {
    auth::check_csrf(headers, session_token).map_err(Rejection::from)
}

/// The CSRF token of a session, as log-in hands it out.
pub fn csrf_token(session_token: &str) -> String {
    auth::csrf_token(session_token)
}

/// The `Set-Cookie` values of a log-in (one day, not `Secure`).
pub fn session_cookies(token: &str, csrf: &str) -> [HeaderValue; 2] {
    auth::session_cookies(token, csrf, 86_400, false, "/")
}

/// The Origin check of a WebSocket upgrade.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Rejection> {
    auth::check_origin(headers, allowed).map_err(Rejection::from)
}
