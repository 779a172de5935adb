//! Long-poll bodies: the same server frames as a WebSocket, over plain HTTP, for clients that
//! cannot hold a socket.
//!
//! `POST /api/v1/poll` takes a [`NewPoll`] and answers [`PollCreated`]; each
//! `GET /api/v1/poll/{poll}?after=n` answers [`PollEvents`].

use crate::client_frame::Cursor;
use crate::ids::UserId;
use crate::server_frame::{ServerFrame, SkippedCursor};
use serde::{Deserialize, Serialize};

/// `POST /poll`'s body (optional: an empty body is an empty `NewPoll`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPoll {
    /// Missed messages after these come first, as with a `resume`.
    #[serde(default)]
    pub cursors: Vec<Cursor>,
    /// Whose presence to follow beyond the user's conversations (set once, here).
    #[serde(default)]
    pub watch: Vec<UserId>,
}

/// `POST /poll`'s answer (`201`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PollCreated {
    /// The poll session's id (32 hex digits): `GET /poll/{poll}`.
    pub poll: String,
    /// The `after` of the first poll: 0.
    pub after: u64,
    /// The cursors not served, as in a `resume`'s `ack`.
    pub skipped: Vec<SkippedCursor>,
}

/// `GET /poll/{poll}`'s answer: the events numbered after the poll's `after`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PollEvents {
    /// Up to 100 frames, oldest first.
    pub events: Vec<ServerFrame>,
    /// The number of the last event returned (the `after` it was polled with if none): the
    /// next poll's `after`.
    pub next: u64,
}

impl PollEvents {
    /// The JSON of a `PollEvents` whose events are already encoded (each a [`ServerFrame`]'s
    /// JSON text): a server keeps every event's encoding, shared by all its recipients, and
    /// splices those in rather than decoding and encoding them again.
    pub fn encode_from_frames<'a>(events: impl IntoIterator<Item = &'a str>, next: u64) -> String {
        let mut body = String::from("{\"events\":[");
        for (i, frame) in events.into_iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(frame);
        }
        body.push_str("],\"next\":");
        body.push_str(&next.to_string());
        body.push('}');
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_frames_read_back_as_poll_events() {
        let frames = [ServerFrame::Resync, ServerFrame::Pong { reference: None }];
        let texts: Vec<String> = frames.iter().map(ServerFrame::to_json).collect();
        let body = PollEvents::encode_from_frames(texts.iter().map(String::as_str), 9);
        let read: PollEvents = serde_json::from_str(&body).unwrap();
        assert_eq!(read, PollEvents { events: frames.to_vec(), next: 9 });
        assert_eq!(PollEvents::encode_from_frames([], 4), r#"{"events":[],"next":4}"#);
    }

    #[test]
    fn a_new_poll_refuses_unknown_fields() {
        assert_eq!(serde_json::from_str::<NewPoll>("{}").unwrap(), NewPoll::default());
        assert!(serde_json::from_str::<NewPoll>(r#"{"cursor":[]}"#).is_err());
    }
}
