//! The `ref` a client may attach to any frame and the server echoes in the reply.
//!
//! Commands on one socket are applied concurrently, so replies may come in any order: the
//! `ref` is how a client matches them. It is echoed exactly as it came, which is why it is
//! either a short string or an integer and nothing else: both survive a round trip through
//! any JSON implementation (a float or an object might not).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// Longest `ref` string a client may attach, in characters.
pub const REF_MAX_CHARS: usize = 64;

/// A client's correlation id: a string of up to [`REF_MAX_CHARS`] characters, or an integer
/// (anything from `i64::MIN` to `u64::MAX`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Reference {
    /// A string, up to [`REF_MAX_CHARS`] characters.
    Text(String),
    /// An integer; `i128` holds both JSON's negative and its large positive integers.
    Integer(i128),
}

impl Reference {
    /// Reads a `ref` value as a frame carries it: `None` for `null`, `Err` for anything that is
    /// not a string of up to [`REF_MAX_CHARS`] characters or an integer in range.
    pub(crate) fn from_value(value: Value) -> Result<Option<Reference>, ()> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) if text.chars().count() <= REF_MAX_CHARS => Ok(Some(Reference::Text(text))),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Ok(Some(Reference::Integer(i.into()))),
                (None, Some(u)) => Ok(Some(Reference::Integer(u.into()))),
                (None, None) => Err(()),
            },
            _ => Err(()),
        }
    }
}

impl From<&str> for Reference {
    fn from(text: &str) -> Self {
        Reference::Text(text.to_owned())
    }
}

impl From<String> for Reference {
    fn from(text: String) -> Self {
        Reference::Text(text)
    }
}

impl From<i64> for Reference {
    fn from(n: i64) -> Self {
        Reference::Integer(n.into())
    }
}

impl From<u64> for Reference {
    fn from(n: u64) -> Self {
        Reference::Integer(n.into())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Text(text) => f.write_str(text),
            Reference::Integer(n) => n.fmt(f),
        }
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Reference::Text(text) => serializer.serialize_str(text),
            // The narrowest form, for serializers without 128-bit integers.
            Reference::Integer(n) => match (i64::try_from(*n), u64::try_from(*n)) {
                (Ok(i), _) => serializer.serialize_i64(i),
                (_, Ok(u)) => serializer.serialize_u64(u),
                _ => serializer.serialize_i128(*n),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReferenceVisitor;

        impl Visitor<'_> for ReferenceVisitor {
            type Value = Reference;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string of up to {REF_MAX_CHARS} characters or an integer")
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Reference, E> {
                Ok(Reference::Integer(n.into()))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Reference, E> {
                Ok(Reference::Integer(n.into()))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Reference, E> {
                if text.chars().count() > REF_MAX_CHARS {
                    return Err(E::invalid_length(text.chars().count(), &self));
                }
                Ok(Reference::Text(text.to_owned()))
            }
        }

        deserializer.deserialize_any(ReferenceVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_integers_round_trip_as_they_came() {
        for value in [json!("r1"), json!(7), json!(-3), json!(u64::MAX), json!(i64::MIN), json!("x".repeat(64))] {
            let reference = Reference::from_value(value.clone()).unwrap().unwrap();
            assert_eq!(serde_json::to_value(&reference).unwrap(), value);
            assert_eq!(serde_json::from_value::<Reference>(value.clone()).unwrap(), reference);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(Reference::from_value(Value::Null), Ok(None));
        for value in [json!(1.5), json!({"a": 1}), json!([1]), json!(true), json!("x".repeat(65))] {
            assert_eq!(Reference::from_value(value.clone()), Err(()), "{value}");
            assert!(serde_json::from_value::<Reference>(value.clone()).is_err(), "{value}");
        }
    }
}
