//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`): the crate's own
//! parsers of untrusted input, reachable from outside without making them part of the API.
//!
//! Every function here calls the function the server calls; the only code of its own is
//! [`Frame::to_text`], the inverse of the frame parser, which the targets use to check that
//! an accepted frame means what it says. Not for applications: nothing here is stable.

use crate::api::{accounts, admin, conversations, request};
use crate::command::{self, Command};
use crate::error::ApiError;
use crate::{auth, poll};
use hyper::header::HeaderValue;
use hyper::HeaderMap;
use kanect_core::{ReceiptKind, PROTOCOL_VERSION};
use serde_json::{json, Value};

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
pub struct Frame(command::Frame);

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
    command::parse(text)
        .map(Frame)
        .map_err(|rejected| RejectedFrame { rejection: rejected.error.into(), reference: rejected.reference })
}

impl Frame {
    /// The client's `ref`, echoed in the reply.
    pub fn reference(&self) -> Option<&Value> {
        self.0.reference.as_ref()
    }

    /// The frame written back out as a client would send it (`PROTOCOL.md`).
    pub fn to_text(&self) -> String {
        let mut frame = match &self.0.command {
            Command::Send { conversation, client_id, body } => {
                json!({"type": "send", "conversation": conversation, "client_id": client_id, "body": body})
            }
            Command::Edit { id, body } => json!({"type": "edit", "id": id, "body": body}),
            Command::Delete { id } => json!({"type": "delete", "id": id}),
            Command::Typing { conversation } => json!({"type": "typing", "conversation": conversation}),
            Command::Mark { conversation, kind, seq } => {
                let kind = match kind {
                    ReceiptKind::Read => "read",
                    ReceiptKind::Delivered => "delivered",
                };
                json!({"type": kind, "conversation": conversation, "seq": seq})
            }
            Command::Resume { cursors, more } => {
                let cursors: Vec<Value> =
                    cursors.iter().map(|c| json!({"conversation": c.conversation, "seq": c.seq})).collect();
                json!({"type": "resume", "cursors": cursors, "more": more})
            }
            Command::Watch { users, add } => json!({"type": "watch", "users": users, "add": add}),
            Command::Ping => json!({"type": "ping"}),
        };
        frame["v"] = json!(PROTOCOL_VERSION);
        if let Some(reference) = &self.0.reference {
            frame["ref"] = reference.clone();
        }
        frame.to_string()
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
            RestBody::SignUp => json::<accounts::SignUp>(bytes).map(drop),
            RestBody::LogIn => json::<accounts::LogIn>(bytes).map(drop),
            RestBody::Disabled => json::<admin::Disabled>(bytes).map(drop),
            RestBody::SetRole => json::<admin::SetRole>(bytes).map(drop),
            RestBody::Password => json::<admin::Password>(bytes).map(drop),
            RestBody::UserRef => json::<conversations::UserRef>(bytes).map(drop),
            RestBody::NewGroup => json::<conversations::NewGroup>(bytes).map(drop),
            RestBody::Rename => json::<conversations::Rename>(bytes).map(drop),
            RestBody::Send => json::<conversations::Send>(bytes).map(drop),
            RestBody::Edit => json::<conversations::Edit>(bytes).map(drop),
            RestBody::Mark => json::<conversations::Mark>(bytes).map(drop),
            RestBody::NewPoll => parse_optional_json::<poll::NewPoll>(bytes).map(drop),
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
    auth::session_cookies(token, csrf, 86_400, false)
}

/// The Origin check of a WebSocket upgrade.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Rejection> {
    auth::check_origin(headers, allowed).map_err(Rejection::from)
}
