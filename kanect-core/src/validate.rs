//! Input rules, in one place, with the limits as named constants.
//!
//! Every public entry point of the engine runs its inputs through here before touching the
//! store; each rule returns [`Error::Invalid`] naming the field, never panics, and checks length
//! before doing anything proportional to the input (a 1 MB password is refused before hashing).

use crate::error::{Error, Invalid, Result};

/// Usernames: 3 to 32 characters.
pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=32;
/// Display and group names: up to 64 characters.
pub const NAME_MAX_CHARS: usize = 64;
/// Passwords: 8 to 256 characters.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=256;
/// Message bodies: up to 4,000 characters (Unicode scalar values).
pub const BODY_MAX_CHARS: usize = 4000;
/// Client ids: 1 to 64 printable ASCII characters.
pub const CLIENT_ID_MAX: usize = 64;
/// Email addresses: up to 254 bytes.
pub const EMAIL_MAX: usize = 254;
/// History and listing pages: at most 200 items.
pub const PAGE_MAX: usize = 200;

/// Passwords refused outright: the most common ones that pass the length rule.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "11111111",
    "00000000",
    "abc12345",
    "letmein1",
    "welcome1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "trustno1",
    "passw0rd",
];

/// A username: ASCII letters, digits, `_`, `.`, `-`, starting with a letter or digit.
pub fn username(value: &str) -> Result<()> {
    let field = "username";
    if value.trim().is_empty() {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if value.len() > *USERNAME_LEN.end() {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    if value.len() < *USERNAME_LEN.start() {
        return Err(Error::invalid(field, Invalid::TooShort));
    }
    Ok(())
}

/// A display or group name: 1 to 64 characters, no control characters, and no whitespace but
/// the plain space (no look-alike spaces, no zero-width characters); returned trimmed.
pub fn name(field: &'static str, value: &str) -> Result<String> {
    let trimmed = value.trim_matches(' ');
    if trimmed.is_empty() || trimmed.chars().all(char::is_whitespace) {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if value.len() > NAME_MAX_CHARS * 4 || trimmed.chars().count() > NAME_MAX_CHARS {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if trimmed.chars().any(|c| c.is_control() || is_confusable_space(c)) {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    Ok(trimmed.to_string())
}

/// An email address: one `@` with something on both sides, no whitespace, at most 254 bytes.
pub fn email(value: &str) -> Result<String> {
    let field = "email";
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if value.len() > EMAIL_MAX {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    match value.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') => {
            Ok(value.to_string())
        }
        _ => Err(Error::invalid(field, Invalid::Malformed)),
    }
}

/// A password: 8 to 256 characters, not only one repeated character, not the username, not
/// one of the most common passwords.
pub fn password(value: &str, username: &str) -> Result<()> {
    let field = "password";
    if value.is_empty() {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    // Bytes first: bounded work whatever the input size.
    if value.len() > PASSWORD_LEN.end() * 4 || value.chars().count() > *PASSWORD_LEN.end() {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    if value.chars().count() < *PASSWORD_LEN.start() {
        return Err(Error::invalid(field, Invalid::TooShort));
    }
    let lower = value.to_lowercase();
    let mut chars = value.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first)
        || lower == username.to_ascii_lowercase()
        || COMMON_PASSWORDS.contains(&lower.as_str())
    {
        return Err(Error::invalid(field, Invalid::TooWeak));
    }
    Ok(())
}

/// A message body: not empty or only whitespace, at most 4,000 characters, no control
/// characters other than newline and tab.
pub fn body(value: &str) -> Result<()> {
    let field = "body";
    if value.len() > BODY_MAX_CHARS * 4 || value.chars().count() > BODY_MAX_CHARS {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if value.chars().all(char::is_whitespace) {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    Ok(())
}

/// A client id: 1 to 64 printable ASCII characters without spaces.
pub fn client_id(value: &str) -> Result<()> {
    let field = "client_id";
    if value.is_empty() {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if value.len() > CLIENT_ID_MAX {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(field, Invalid::BadCharacters));
    }
    Ok(())
}

/// A page size: 1 to 200.
pub fn limit(value: usize) -> Result<usize> {
    if value == 0 || value > PAGE_MAX {
        return Err(Error::invalid("limit", Invalid::OutOfRange));
    }
    Ok(value)
}

/// Whitespace and invisible characters that look like (or hide as) something else.
fn is_confusable_space(c: char) -> bool {
    (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl Sized>) -> &'static str {
        result.err().map(|e| e.code()).unwrap_or("ok")
    }

    #[test]
    fn usernames() {
        assert_eq!(reason(username("alice_01")), "ok");
        assert_eq!(reason(username("")), "empty");
        assert_eq!(reason(username("   ")), "empty");
        assert_eq!(reason(username("ab")), "too_short");
        assert_eq!(reason(username(&"a".repeat(33))), "too_long");
        assert_eq!(reason(username("al ice")), "bad_characters");
        assert_eq!(reason(username("al\u{00A0}ice")), "bad_characters");
        assert_eq!(reason(username("al\u{0007}ice")), "bad_characters");
        assert_eq!(reason(username("_alice")), "bad_characters");
        assert_eq!(reason(username("аlice")), "bad_characters"); // Cyrillic a
    }

    #[test]
    fn names_are_trimmed_and_refuse_hidden_characters() {
        assert_eq!(name("name", "  Team chat ").unwrap(), "Team chat");
        assert_eq!(reason(name("name", "   ")), "empty");
        assert_eq!(reason(name("name", "a\u{200B}b")), "bad_characters");
        assert_eq!(reason(name("name", "a\tb")), "bad_characters");
        assert_eq!(reason(name("name", &"x".repeat(65))), "too_long");
        assert_eq!(reason(name("name", &"x".repeat(1_000_000))), "too_long");
    }

    #[test]
    fn passwords() {
        assert_eq!(reason(password("correct horse", "alice")), "ok");
        assert_eq!(reason(password("short", "alice")), "too_short");
        assert_eq!(reason(password(&"x".repeat(1 << 20), "alice")), "too_long");
        assert_eq!(reason(password("aaaaaaaaaa", "alice")), "too_weak");
        assert_eq!(reason(password("Password", "alice")), "too_weak");
        assert_eq!(reason(password("alice_long", "ALICE_LONG")), "too_weak");
        assert_eq!(reason(password("", "alice")), "empty");
    }

    #[test]
    fn bodies() {
        assert_eq!(reason(body("hi")), "ok");
        assert_eq!(reason(body("line\nline\ttab")), "ok");
        assert_eq!(reason(body("")), "empty");
        assert_eq!(reason(body(" \n\t ")), "empty");
        assert_eq!(reason(body(&"é".repeat(BODY_MAX_CHARS))), "ok");
        assert_eq!(reason(body(&"é".repeat(BODY_MAX_CHARS + 1))), "too_long");
        assert_eq!(reason(body("nul\0byte")), "bad_characters");
    }

    #[test]
    fn emails_client_ids_limits() {
        assert_eq!(email(" a@b.example ").unwrap(), "a@b.example");
        assert_eq!(reason(email("nobody")), "malformed");
        assert_eq!(reason(email("a@b@c.d")), "malformed");
        assert_eq!(reason(email("a b@c.d")), "bad_characters");
        assert_eq!(reason(client_id("c-1")), "ok");
        assert_eq!(reason(client_id("")), "empty");
        assert_eq!(reason(client_id("a b")), "bad_characters");
        assert_eq!(reason(client_id(&"c".repeat(65))), "too_long");
        assert_eq!(reason(limit(0)), "out_of_range");
        assert_eq!(reason(limit(201)), "out_of_range");
    }
}
