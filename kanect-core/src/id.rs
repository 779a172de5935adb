//! Identifiers and per-conversation sequence numbers.
//!
//! Ids are UUIDs so that any node can mint them without asking a central counter; user ids
//! are UUIDv7 (time-ordered, so big-endian keys sort by creation). Two kinds are *derived*
//! instead: a direct conversation's id from its two members, so opening it twice — on any
//! node — names the same conversation without a lookup table; and a message's id from its
//! idempotency key (conversation, sender, client id), so a store finds a resend by the id
//! alone and needs no second index for client ids.
//!
//! On the wire every id is a string (the hyphenated UUID form): JavaScript numbers cannot hold
//! 128 bits.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id's 16 bytes, big-endian: the form stores use in keys.
            pub fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            /// Rebuilds an id from [`to_bytes`](Self::to_bytes).
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

uuid_id!(
    /// A user account.
    UserId
);
uuid_id!(
    /// A conversation: direct (two users) or group.
    ConversationId
);
uuid_id!(
    /// A message, unique across all conversations. A stored message's id is
    /// [`MessageId::for_client`] of its key; `new` makes one that names no message.
    MessageId
);
uuid_id!(
    /// An audit log entry.
    AuditId
);
uuid_id!(
    /// An uploaded file: its bytes in the blob store, its record in the store. Time-ordered
    /// with 74 random bits, so not guessable; reading one still needs membership of the
    /// conversation whose message carries it.
    AttachmentId
);
uuid_id!(
    /// An invite link's record (not its token, which only the link holds): what an invite
    /// is listed and revoked by.
    InviteId
);
uuid_id!(
    /// One running engine (a server node): tags bus traffic so a node skips its own.
    NodeId
);

impl ConversationId {
    /// The id of the direct conversation between `a` and `b`: the same for either order, on
    /// every node, without a lookup.
    pub fn direct(a: UserId, b: UserId) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Self(derived(b"kanect-direct-v1", &[&lo.to_bytes(), &hi.to_bytes()]))
    }
}

impl MessageId {
    /// The id of the message that `sender` sends into `conversation` with `client_id`: the
    /// same on every node and every retry, and distinct for distinct keys (a 122-bit hash).
    pub fn for_client(conversation: ConversationId, sender: UserId, client_id: &str) -> Self {
        Self(derived(b"kanect-message-v1", &[&conversation.to_bytes(), &sender.to_bytes(), client_id.as_bytes()]))
    }
}

/// A UUIDv8 from SHA-256 over a domain tag and the parts (the parts are fixed-size or, for
/// the last, the rest of the input, so distinct parts never hash alike).
fn derived(domain: &[u8], parts: &[&[u8]]) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A message's position in its conversation: 1 for the first message, then gap-free and
/// strictly increasing. `Seq(0)` means "before the first message" and is the cursor of a
/// client that has seen nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// The cursor before any message.
    pub const ZERO: Seq = Seq(0);

    /// The seq after this one.
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }

    /// The seq before this one (`ZERO` stays `ZERO`).
    pub(crate) fn before(self) -> Seq {
        Seq(self.0.saturating_sub(1))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_id_is_symmetric_and_distinct() {
        let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
        assert_eq!(ConversationId::direct(a, b), ConversationId::direct(b, a));
        assert_ne!(ConversationId::direct(a, b), ConversationId::direct(a, c));
    }

    #[test]
    fn message_id_is_a_function_of_the_idempotency_key() {
        let (conversation, sender) = (ConversationId::new(), UserId::new());
        let id = MessageId::for_client(conversation, sender, "c-1");
        assert_eq!(id, MessageId::for_client(conversation, sender, "c-1"));
        assert_ne!(id, MessageId::for_client(conversation, sender, "c-2"));
        assert_ne!(id, MessageId::for_client(conversation, UserId::new(), "c-1"));
        assert_ne!(id, MessageId::for_client(ConversationId::new(), sender, "c-1"));
        assert_eq!(id.as_uuid().get_version_num(), 8);
    }

    #[test]
    fn ids_round_trip_through_text_and_bytes() {
        let id = UserId::new();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
        assert_eq!(UserId::from_bytes(id.to_bytes()), id);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }

    #[test]
    fn v7_ids_sort_by_creation() {
        let first = UserId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = UserId::new();
        assert!(first.to_bytes() < second.to_bytes());
    }
}
