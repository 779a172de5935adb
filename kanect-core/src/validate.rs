//! Input rules, in one place, with the limits as named constants.
//!
//! Every public entry point of the engine runs its inputs through here before touching the
//! store; each rule returns [`Error::Invalid`] naming the field, never panics, and checks length
//! before doing anything proportional to the input (a 1 MB password is refused before hashing).
//!
//! **Passwords** follow NIST SP 800-63B: a length rule, no composition rules, and a check
//! against passwords attackers try first. That check is Django's list of 20,000 common
//! passwords (the one the original Kanect app used, BSD-licensed, embedded as text: see
//! `data/README.md`) plus a rule against runs (`aaaa`, `1234`) that catches what a list cannot
//! enumerate, such as `12345670`. An estimator such as zxcvbn was the alternative: it scores
//! more patterns, but its verdict is a fuzzy score that a client cannot mirror exactly (the web
//! app's meter applies the same rules as here), it depends on dictionaries and regex crates the
//! engine otherwise does without, and it would also refuse some passphrases that are fine. A
//! list and one rule are predictable: a user told `too_weak` can see why.

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
/// Attachments a message may carry.
pub const ATTACHMENTS_MAX: usize = 10;
/// A user's status text: up to 100 characters.
pub const STATUS_MAX_CHARS: usize = 100;
/// An uploaded avatar picture: up to 5 MiB (it is kept only as a small square).
pub const AVATAR_MAX_BYTES: usize = 5 * 1024 * 1024;
/// The side of the square an avatar is kept as, in pixels.
pub const AVATAR_EDGE: u32 = 256;

/// Django's list of common passwords (lower-case, one a line): see `data/README.md`.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// A password needs at least this many characters that do not merely repeat the one before or
/// step one up or down from it (see [`password`]).
pub const PASSWORD_MIN_FRESH_CHARS: usize = 5;

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

/// A status text: 1 to 100 characters, no control characters, no whitespace but the plain
/// space; the zero-width joiner is allowed (emoji such as 👩‍💻 are built with it). Returned
/// trimmed.
pub fn status(value: &str) -> Result<String> {
    let field = "status";
    let trimmed = value.trim_matches(' ');
    if trimmed.is_empty() {
        return Err(Error::invalid(field, Invalid::Empty));
    }
    if value.len() > STATUS_MAX_CHARS * 4 || trimmed.chars().count() > STATUS_MAX_CHARS {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if trimmed.chars().any(|c| c.is_control() || (is_confusable_space(c) && c != '\u{200D}')) {
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

/// A password: 8 to 256 characters, not the username, not on Django's list of 20,000 common
/// passwords, and not mostly runs: at least [`PASSWORD_MIN_FRESH_CHARS`] of its characters must
/// neither repeat the one before nor step one up or down from it, so `aaaaaaaa`, `12345670` and
/// `abcd1234` are refused (NIST SP 800-63B's "repetitive or sequential characters").
///
/// # Errors
/// `invalid` (field `password`): `empty`, `too_long`, `bad_characters` (control characters),
/// `too_short`, `too_weak`.
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
    if lower == username.to_ascii_lowercase()
        || is_common(lower.trim())
        || fresh_chars(&lower) < PASSWORD_MIN_FRESH_CHARS
    {
        return Err(Error::invalid(field, Invalid::TooWeak));
    }
    Ok(())
}

/// Whether a (lower-case, trimmed) password is on the common-password list, as Django's
/// `CommonPasswordValidator` checks it. A linear scan of the embedded list (about 160 KB, tens of
/// microseconds): passwords are checked only when one is set, right before an argon2 hash that
/// costs a thousand times more, and the scan needs no table built at start or kept in memory.
fn is_common(lower: &str) -> bool {
    COMMON_PASSWORDS.lines().any(|common| common == lower)
}

/// How many characters start something new: neither the same as the one before nor one step
/// up or down from it. `aaaa`, `1234` and `dcba` are one each.
fn fresh_chars(value: &str) -> usize {
    let mut previous: Option<char> = None;
    value
        .chars()
        .filter(|&c| {
            let continues = previous.is_some_and(|p| (i64::from(u32::from(c)) - i64::from(u32::from(p))).abs() <= 1);
            previous = Some(c);
            !continues
        })
        .count()
}

/// A message body: not empty or only whitespace, at most 4,000 characters, no control
/// characters other than newline and tab.
pub fn body(value: &str) -> Result<()> {
    body_with(value, 0)
}

/// A message body beside `attachments` files: as [`body`], except that a message with files
/// may have an empty body; and at most [`ATTACHMENTS_MAX`] files, none twice.
///
/// # Errors
/// As [`body`] (`empty` only without files); `too_long` (field `attachments`) past
/// [`ATTACHMENTS_MAX`].
pub fn message(value: &str, attachments: &[crate::id::AttachmentId]) -> Result<()> {
    if attachments.len() > ATTACHMENTS_MAX {
        return Err(Error::invalid("attachments", Invalid::TooLong));
    }
    let mut seen = std::collections::HashSet::with_capacity(attachments.len());
    if !attachments.iter().all(|id| seen.insert(*id)) {
        return Err(Error::invalid("attachments", Invalid::Repeated));
    }
    body_with(value, attachments.len())
}

fn body_with(value: &str, attachments: usize) -> Result<()> {
    let field = "body";
    if value.len() > BODY_MAX_CHARS * 4 || value.chars().count() > BODY_MAX_CHARS {
        return Err(Error::invalid(field, Invalid::TooLong));
    }
    if attachments == 0 && value.chars().all(char::is_whitespace) {
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

/// One emoji, as the Unicode emoji list has it (skin tones and sequences included), returned
/// in its fully-qualified form so that `❤` and `❤️` are one reaction.
///
/// # Errors
/// `not_emoji` (field `emoji`) for anything else: text, two emoji, an emoji with text around.
pub fn emoji(value: &str) -> Result<String> {
    // The longest emoji (a tagged flag) is 28 bytes; nothing longer is looked up.
    if value.len() > EMOJI_MAX_BYTES {
        return Err(Error::invalid("emoji", Invalid::NotEmoji));
    }
    emojis::get(value).map(|found| found.as_str().to_string()).ok_or(Error::invalid("emoji", Invalid::NotEmoji))
}

/// The most bytes [`emoji`] looks at.
pub const EMOJI_MAX_BYTES: usize = 64;

/// How many characters of its original's first line a reply shows.
pub const REPLY_PREVIEW_CHARS: usize = 100;

/// The most different `@name`s one body may hold (each is looked up when it is sent).
pub const MENTIONS_MAX: usize = 50;

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
    fn a_status_holds_100_characters_and_emoji() {
        assert_eq!(status(&"é".repeat(STATUS_MAX_CHARS)).unwrap().chars().count(), STATUS_MAX_CHARS);
        assert_eq!(reason(status(&"é".repeat(STATUS_MAX_CHARS + 1))), "too_long");
        assert_eq!(status("  👩‍💻 coding ").unwrap(), "👩‍💻 coding");
        assert_eq!(reason(status("   ")), "empty");
        assert_eq!(reason(status("a\nb")), "bad_characters");
        assert_eq!(reason(status("a\u{200B}b")), "bad_characters");
    }

    #[test]
    fn one_emoji_in_its_fully_qualified_form() {
        assert_eq!(emoji("👍").unwrap(), "👍");
        assert_eq!(emoji("👍🏽").unwrap(), "👍🏽", "skin tone kept");
        assert_eq!(emoji("❤").unwrap(), "❤\u{fe0f}", "unqualified becomes fully qualified");
        assert_eq!(emoji("❤\u{fe0f}").unwrap(), "❤\u{fe0f}");
        assert_eq!(emoji("👨\u{200d}👩\u{200d}👧").unwrap(), "👨\u{200d}👩\u{200d}👧", "a sequence is one emoji");
        assert_eq!(emoji("🏴\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}").unwrap().len(), 28);
        for not in ["", " ", "a", "👍👍", " 👍", "👍 ", ":+1:", "<b>", "\u{fe0f}", &"👍".repeat(100)] {
            assert_eq!(reason(emoji(not)), "not_emoji", "{not:?}");
        }
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
    fn common_and_sequential_passwords_are_too_weak() {
        // The hardening issue's examples: on Django's list (qwerty12, abcdefgh, password!) or a
        // run with one odd character (12345670).
        for weak in ["12345670", "qwerty12", "abcdefgh", "Password!", " Password! ", "iloveyou2", "ABCD1234"] {
            assert_eq!(reason(password(weak, "alice")), "too_weak", "{weak}");
        }
        for fine in ["correct horse", "battery staple", "a calm river 42", "w9#kLm2q"] {
            assert_eq!(reason(password(fine, "alice")), "ok", "{fine}");
        }
    }

    #[test]
    fn the_common_list_is_djangos_whole_list() {
        assert_eq!(COMMON_PASSWORDS.lines().count(), 19_640);
        assert_eq!(COMMON_PASSWORDS.lines().next(), Some("123456"));
        assert!(COMMON_PASSWORDS.lines().all(|line| line == line.trim() && !line.is_empty()));
        // The last entry is found too: the scan reads to the end.
        assert!(is_common(COMMON_PASSWORDS.lines().last().unwrap()));
    }

    #[test]
    fn fresh_characters_at_the_limit() {
        assert_eq!(fresh_chars("aaaa1234dcba"), 3);
        // Exactly PASSWORD_MIN_FRESH_CHARS fresh characters pass; one fewer does not.
        assert_eq!(fresh_chars("a1b2c345"), 6);
        assert_eq!(fresh_chars("ax1y2z34"), 7);
        assert_eq!(fresh_chars("xmpr1234"), PASSWORD_MIN_FRESH_CHARS);
        assert_eq!(reason(password("xmpr1234", "alice")), "ok");
        assert_eq!(fresh_chars("xmpq1234"), PASSWORD_MIN_FRESH_CHARS - 1);
        assert_eq!(reason(password("xmpq1234", "alice")), "too_weak");
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
