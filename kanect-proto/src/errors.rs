//! Errors on the wire: the REST error body, and why a JSON input (a request body, a client
//! frame) was refused.
//!
//! Every refusal names a stable code and, where it can, the offending field. For JSON input the
//! code and field are worked out here, once, for bodies and frames alike, so that a client sees
//! the same `missing_field`/`unknown_field`/`wrong_type`/`invalid_value` for the same mistake
//! over REST and over a socket.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The body of every REST error response: `{"error":{"code","message","field"}}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What an [`ErrorBody`] (and an error frame) says.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable and machine-readable (`PROTOCOL.md`, "Errors"): match on it.
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// The offending input (`"body"`, `"username"`, ...) where known; `null` otherwise.
    pub field: Option<String>,
}

/// Which rule a JSON input broke. Each kind is one stable code ([`InputErrorKind::code`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum InputErrorKind {
    /// Not JSON, or (for a frame) not a JSON object.
    InvalidJson,
    /// A required field is absent.
    MissingField,
    /// A field the input may not have.
    UnknownField,
    /// A value of the wrong JSON type (a string for a number, an array for an object, ...).
    WrongType,
    /// A value of the right type that is not allowed (an id that is not a UUID, ...).
    InvalidValue,
    /// A frame's `v` is not [`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION).
    UnsupportedVersion,
    /// A frame's `type` names no command.
    UnknownType,
}

impl InputErrorKind {
    /// The stable code the client is sent.
    pub fn code(self) -> &'static str {
        match self {
            InputErrorKind::InvalidJson => "invalid_json",
            InputErrorKind::MissingField => "missing_field",
            InputErrorKind::UnknownField => "unknown_field",
            InputErrorKind::WrongType => "wrong_type",
            InputErrorKind::InvalidValue => "invalid_value",
            InputErrorKind::UnsupportedVersion => "unsupported_version",
            InputErrorKind::UnknownType => "unknown_type",
        }
    }
}

/// Why a JSON input was refused: a kind (its code), the field where known, and a message for
/// people.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InputError {
    kind: InputErrorKind,
    field: Option<String>,
    message: String,
}

impl InputError {
    /// An error of `kind`.
    pub fn new(kind: InputErrorKind, field: Option<&str>, message: impl Into<String>) -> Self {
        InputError { kind, field: field.map(str::to_owned), message: message.into() }
    }

    /// Classifies a serde_json failure: syntax, or which field is missing, unknown or mistyped.
    ///
    /// serde reports these only in its message text, so the text is read here, in one place,
    /// against the forms serde writes.
    pub fn from_json(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let text = error.to_string();
        if !matches!(error.classify(), Category::Data) {
            return InputError {
                kind: InputErrorKind::InvalidJson,
                field: None,
                message: format!("invalid JSON: {text}"),
            };
        }
        let (kind, field) = if let Some(rest) = text.strip_prefix("missing field `") {
            // The struct's own field name: no backtick in it.
            (InputErrorKind::MissingField, rest.split('`').next().map(str::to_string))
        } else if let Some(rest) = text.strip_prefix("unknown field `") {
            // The client's key, which may hold backticks and even serde's separators: it ends
            // at the last separator, after which serde writes only the struct's field names.
            let end = rest.rfind("`, expected ").max(rest.rfind("`, there are no fields"));
            (InputErrorKind::UnknownField, end.map(|end| rest[..end].to_string()))
        } else if text.starts_with("invalid type") {
            (InputErrorKind::WrongType, None)
        } else {
            (InputErrorKind::InvalidValue, None)
        };
        InputError { kind, field, message: text }
    }

    /// Which rule was broken.
    pub fn kind(&self) -> InputErrorKind {
        self.kind
    }

    /// The stable code: [`InputErrorKind::code`] of [`kind`](Self::kind).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The offending field, where known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// For people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind, the field (owned) and the message, for a caller that builds its own error from them.
    pub fn into_parts(self) -> (InputErrorKind, Option<String>, String) {
        (self.kind, self.field, self.message)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn json_errors_name_the_field() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            body: String,
        }
        let cases = [
            ("{", "invalid_json", None),
            ("{}", "missing_field", Some("body")),
            (r#"{"body":"x","extra":1}"#, "unknown_field", Some("extra")),
            (r#"{"body":1}"#, "wrong_type", None),
        ];
        for (input, code, field) in cases {
            let e = InputError::from_json(&serde_json::from_str::<Body>(input).unwrap_err());
            assert_eq!((e.code(), e.field()), (code, field), "{input}");
        }
    }

    /// Found by the `rest_body` fuzz target: a key with a backtick was cut at it, so the error
    /// named a field the body did not have.
    #[test]
    fn unknown_fields_are_named_whole_whatever_they_hold() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Two {
            a: u8,
            b: u8,
        }
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Empty {}
        for key in ["dis`lay_name", "`", "x`, expected `a`", "x`, there are no fields", "a\\nb", ""] {
            let input = format!(r#"{{"{key}":1}}"#);
            let value: Value = serde_json::from_str(&input).unwrap();
            let field = value.as_object().unwrap().keys().next().unwrap().clone();
            for error in
                [serde_json::from_str::<Two>(&input).unwrap_err(), serde_json::from_str::<Empty>(&input).unwrap_err()]
            {
                let e = InputError::from_json(&error);
                assert_eq!((e.code(), e.field()), ("unknown_field", Some(field.as_str())), "{input}: {error}");
            }
        }
    }

    #[test]
    fn the_error_body_has_a_null_field_when_none_is_known() {
        let body = ErrorBody {
            error: ErrorDetail { code: "not_member".into(), message: "forbidden: not_member".into(), field: None },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_member","message":"forbidden: not_member","field":null}}"#
        );
    }
}
