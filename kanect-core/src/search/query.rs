//! The query language (see the `search` module docs) and the one tokenizer every backend
//! matches with.

use crate::error::{Error, Invalid, Result};

/// Words longer than this (in UTF-8 bytes) are not indexed nor looked for: nobody searches for
/// a 200-letter run, and an index should not grow by one.
pub const TOKEN_MAX_BYTES: usize = 100;

/// The words of `text`: maximal runs of alphanumeric characters (Unicode), lower-cased, at
/// most [`TOKEN_MAX_BYTES`] each. Backends index and match exactly these.
///
/// ```
/// assert_eq!(kanect_core::search::tokens("Grüße, Zoë! e-mail 42x"), ["grüße", "zoë", "e", "mail", "42x"]);
/// ```
pub fn tokens(text: &str) -> Vec<String> {
    token_spans(text).into_iter().map(|(start, end)| text[start..end].to_lowercase()).collect()
}

/// Where the words of `text` are: byte ranges, in order (long ones left out, as [`tokens`]).
pub(crate) fn token_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(begun)) => {
                spans.push((begun, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begun) = start {
        spans.push((begun, text.len()));
    }
    spans.retain(|(start, end)| end - start <= TOKEN_MAX_BYTES);
    spans
}

/// A parsed query: any of its conjunctions matches (they were separated by `or`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    /// At least one; each with at least one phrase to match.
    pub any: Vec<Conjunction>,
}

/// Phrases that must all appear, and phrases that must not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conjunction {
    /// Each a run of tokens that must appear next to each other, in order (a word alone is a
    /// phrase of one). At least one.
    pub all: Vec<Vec<String>>,
    /// Phrases that must not appear.
    pub none: Vec<Vec<String>>,
}

impl Terms {
    /// Parses a query (see the module docs).
    ///
    /// # Errors
    /// `empty` (field `q`) when it has no word to look for; `too_long` past
    /// [`QUERY_MAX_CHARS`](super::QUERY_MAX_CHARS).
    pub fn parse(query: &str) -> Result<Terms> {
        if query.chars().count() > super::QUERY_MAX_CHARS {
            return Err(Error::invalid("q", Invalid::TooLong));
        }
        let mut any = Vec::new();
        let mut current = Conjunction::default();
        let mut rest = query;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let negated = rest.starts_with('-');
            if negated {
                rest = &rest[1..];
            }
            let (text, quoted, next) = match rest.strip_prefix('"') {
                Some(inner) => match inner.find('"') {
                    Some(end) => (&inner[..end], true, &inner[end + 1..]),
                    None => (inner, true, ""),
                },
                None => {
                    let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
                    (&rest[..end], false, &rest[end..])
                }
            };
            rest = next;
            if !quoted && !negated && text.eq_ignore_ascii_case("or") {
                if !current.all.is_empty() {
                    any.push(std::mem::take(&mut current));
                }
                continue;
            }
            let words = tokens(text);
            if words.is_empty() {
                continue;
            }
            // An unquoted run such as `e-mail` is a phrase too, as PostgreSQL reads it.
            match negated {
                true => current.none.push(words),
                false => current.all.push(words),
            }
        }
        if !current.all.is_empty() {
            any.push(current);
        }
        if any.is_empty() {
            return Err(Error::invalid("q", Invalid::Empty));
        }
        Ok(Terms { any })
    }

    /// Every word to highlight: those of the phrases that must appear.
    pub fn highlighted(&self) -> impl Iterator<Item = &str> {
        self.any.iter().flat_map(|c| c.all.iter().flatten()).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn words_phrases_exclusions_and_or() {
        let terms = Terms::parse(r#"Lunch "at noon" -pizza or Dinner"#).unwrap();
        assert_eq!(terms.any.len(), 2);
        assert_eq!(terms.any[0].all, vec![words(&["lunch"]), words(&["at", "noon"])]);
        assert_eq!(terms.any[0].none, vec![words(&["pizza"])]);
        assert_eq!(terms.any[1].all, vec![words(&["dinner"])]);
        assert_eq!(Terms::parse("e-mail").unwrap().any[0].all, vec![words(&["e", "mail"])]);
        assert_eq!(Terms::parse("\"unclosed phrase").unwrap().any[0].all, vec![words(&["unclosed", "phrase"])]);
    }

    #[test]
    fn a_query_without_a_word_is_empty_never_a_panic() {
        for query in
            ["", "   ", "!!!", "\"\"", "-", "- -", "or", "or or", "-word", "\"", "-\"x\"", "(*&^%$#@)", "\u{200B}"]
        {
            let error = Terms::parse(query).unwrap_err();
            assert_eq!((error.code(), query), ("empty", query));
        }
    }

    #[test]
    fn the_length_limit_is_in_characters() {
        let at_limit = "é ".repeat(super::super::QUERY_MAX_CHARS / 2);
        assert!(Terms::parse(&at_limit).is_ok());
        let past = format!("{at_limit}a");
        assert_eq!(Terms::parse(&past).unwrap_err().code(), "too_long");
    }

    #[test]
    fn tokens_are_lower_case_alphanumeric_runs_without_overlong_ones() {
        assert_eq!(tokens("ÄÖÜ straße 東京 😀 x_y"), ["äöü", "straße", "東京", "x", "y"]);
        let long = "a".repeat(TOKEN_MAX_BYTES + 1);
        assert_eq!(tokens(&format!("ok {long} fine")), ["ok", "fine"]);
        assert_eq!(tokens(&"a".repeat(TOKEN_MAX_BYTES)).len(), 1);
    }
}
