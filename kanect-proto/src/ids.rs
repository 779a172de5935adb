//! Identifiers, seqs and times as the wire carries them.
//!
//! Ids are hyphenated UUID strings (JavaScript numbers cannot hold 128 bits); seqs and times
//! (milliseconds since the Unix epoch) are numbers. The types are the engine's in meaning, not
//! in code: a server converts with the UUID or the number.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

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
    /// A user.
    UserId
);
uuid_id!(
    /// A conversation, direct or group.
    ConversationId
);
uuid_id!(
    /// A message.
    MessageId
);
uuid_id!(
    /// An entry of the admin audit log.
    AuditId
);
uuid_id!(
    /// An uploaded file.
    AttachmentId
);
uuid_id!(
    /// An invite link's record (not its token).
    InviteId
);

/// A message's position in its conversation: 1 for the first, gap-free. `Seq(0)` is the cursor
/// of a device that has seen nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strings_and_seqs_numbers() {
        let id: UserId = "0193a8b0-0000-7000-8000-000000000001".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""0193a8b0-0000-7000-8000-000000000001""#);
        assert_eq!(serde_json::from_str::<Seq>("13").unwrap(), Seq(13));
        assert!(serde_json::from_str::<UserId>("13").is_err());
    }
}
