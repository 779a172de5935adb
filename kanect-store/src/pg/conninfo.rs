//! The libpq connection parameters that tokio-postgres does not take — `sslmode=verify-ca`,
//! `sslmode=verify-full` and `sslrootcert` — cut out of a connection string before the rest
//! goes to tokio-postgres's parser, which refuses them.
//!
//! Both of libpq's forms are read, the way tokio-postgres reads them (so that both agree on
//! where a parameter starts and ends):
//!
//! - a URL (`postgres://` or `postgresql://`): the parameters follow the first `?` after the
//!   credentials (which end at the first `@`), `key=value` pairs between `&`, percent-encoded;
//! - otherwise key-value pairs (`host=db sslmode=verify-full`): a value is a run of non-blanks
//!   or a single-quoted string, and a backslash escapes the next character in either.
//!
//! Only the two parameters' own text is cut; everything else reaches tokio-postgres byte for
//! byte, so its errors for the rest are unchanged. A parameter given twice takes its last
//! value, as in libpq. A key-value string this reader cannot follow is handed over untouched:
//! tokio-postgres then says what is wrong with it.

use percent_encoding::percent_decode_str;
use std::ops::Range;

/// The two parameters, taken out of a connection string, and what is left of it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Split {
    /// The connection string without them, for tokio-postgres.
    pub(super) rest: String,
    /// `sslmode`'s value, unchecked.
    pub(super) ssl_mode: Option<String>,
    /// `sslrootcert`'s value: a file, or `system`.
    pub(super) ssl_root_cert: Option<String>,
}

impl Split {
    /// Records `value` if `key` is one of the two parameters; false if it is not.
    fn take(&mut self, key: &str, value: String) -> bool {
        match key {
            "sslmode" => self.ssl_mode = Some(value),
            "sslrootcert" => self.ssl_root_cert = Some(value),
            _ => return false,
        }
        true
    }
}

/// Takes `sslmode` and `sslrootcert` out of `conninfo`, a URL or a key-value string.
///
/// # Errors
/// A URL parameter of the two whose value is not UTF-8 once percent-decoded.
pub(super) fn split(conninfo: &str) -> Result<Split, String> {
    if conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://") {
        split_url(conninfo)
    } else {
        Ok(split_key_values(conninfo))
    }
}

fn split_url(url: &str) -> Result<Split, String> {
    let credentials_end = url.find('@').map_or(0, |at| at + 1);
    let Some(question) = url[credentials_end..].find('?').map(|at| credentials_end + at) else {
        return Ok(Split { rest: url.to_string(), ..Split::default() });
    };
    let mut split = Split::default();
    let mut kept = Vec::new();
    for pair in url[question + 1..].split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode_str(key).decode_utf8_lossy();
        if key != "sslmode" && key != "sslrootcert" {
            kept.push(pair);
            continue;
        }
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("{key} in the URL is not UTF-8 once percent-decoded"))?;
        split.take(&key, value.into_owned());
    }
    split.rest = url[..question].to_string();
    if !kept.is_empty() {
        split.rest.push('?');
        split.rest.push_str(&kept.join("&"));
    }
    Ok(split)
}

fn split_key_values(conninfo: &str) -> Split {
    let mut split = Split::default();
    let mut cut = Vec::new();
    let mut reader = KeyValues { text: conninfo, at: 0 };
    loop {
        match reader.next_pair() {
            Ok(Some((key, value, span))) => {
                if split.take(key, value) {
                    cut.push(span);
                }
            }
            Ok(None) => break,
            Err(()) => return Split { rest: conninfo.to_string(), ..Split::default() },
        }
    }
    let mut rest = String::with_capacity(conninfo.len());
    let mut from = 0;
    for span in cut {
        rest.push_str(&conninfo[from..span.start]);
        from = span.end;
    }
    rest.push_str(&conninfo[from..]);
    split.rest = rest;
    split
}

/// One `key = value` pair: the key, the value unescaped, and the span of the pair's text.
type Pair<'a> = (&'a str, String, Range<usize>);

/// A reader of `key = value` pairs, as tokio-postgres's key-value parser reads them.
struct KeyValues<'a> {
    text: &'a str,
    /// The byte offset of the next character.
    at: usize,
}

impl<'a> KeyValues<'a> {
    /// The next pair; `Err` where tokio-postgres would fail too.
    fn next_pair(&mut self) -> Result<Option<Pair<'a>>, ()> {
        self.skip_blanks();
        let start = self.at;
        let key_len = self.rest().find(|c: char| c.is_whitespace() || c == '=').unwrap_or(self.rest().len());
        if key_len == 0 {
            return if self.rest().is_empty() { Ok(None) } else { Err(()) };
        }
        let key = &self.text[start..start + key_len];
        self.at += key_len;
        self.skip_blanks();
        if !self.eat('=') {
            return Err(());
        }
        self.skip_blanks();
        let value = if self.eat('\'') {
            self.value_until(|c| c == '\'', true)?
        } else {
            self.value_until(char::is_whitespace, false)?
        };
        Ok(Some((key, value, start..self.at)))
    }

    /// A value up to the first unescaped character for which `end` holds (eaten too when
    /// `closing`, and then required).
    fn value_until(&mut self, end: impl Fn(char) -> bool, closing: bool) -> Result<String, ()> {
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((offset, c)) = chars.next() {
            if end(c) {
                self.at += offset;
                if closing {
                    self.at += c.len_utf8();
                }
                return Ok(value);
            }
            if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            } else {
                value.push(c);
            }
        }
        self.at = self.text.len();
        if closing || value.is_empty() {
            Err(())
        } else {
            Ok(value)
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.rest().starts_with(c);
        if found {
            self.at += c.len_utf8();
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(conninfo: &str) -> (String, Option<String>, Option<String>) {
        let split = split(conninfo).unwrap();
        (split.rest, split.ssl_mode, split.ssl_root_cert)
    }

    fn some(value: &str) -> Option<String> {
        Some(value.to_string())
    }

    #[test]
    fn url_parameters_are_cut_and_the_rest_kept_as_written() {
        let (rest, mode, root) =
            parts("postgres://u:p%40ss@db:5432/k?application_name=a%20b&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5");
        assert_eq!(rest, "postgres://u:p%40ss@db:5432/k?application_name=a%20b&connect_timeout=5");
        assert_eq!((mode, root), (some("verify-full"), some("/etc/ca.pem")));

        let (rest, mode, root) = parts("postgresql://db/k?sslmode=verify-ca&sslrootcert=/etc/ca.pem");
        assert_eq!((rest.as_str(), mode, root), ("postgresql://db/k", some("verify-ca"), some("/etc/ca.pem")));
    }

    #[test]
    fn a_url_without_them_is_untouched_and_the_last_of_two_wins() {
        for url in ["postgres://u@db/k", "postgres://u@db/k?application_name=x", "postgres://db"] {
            assert_eq!(parts(url), (url.to_string(), None, None));
        }
        assert_eq!(parts("postgres://db/k?sslmode=require&sslmode=disable").1, some("disable"));
        // A `?` in the credentials is not where the parameters start.
        assert_eq!(
            parts("postgres://u:a?b@db/k?sslmode=require"),
            ("postgres://u:a?b@db/k".into(), some("require"), None)
        );
    }

    #[test]
    fn a_url_value_that_is_not_utf8_names_its_parameter() {
        let error = split("postgres://db/k?sslrootcert=%FF").unwrap_err();
        assert!(error.contains("sslrootcert"), "{error}");
    }

    #[test]
    fn key_value_pairs_are_cut_with_quotes_and_escapes() {
        let (rest, mode, root) =
            parts("host=db sslmode = verify-full user=k sslrootcert='/etc/my ca\\'s.pem' dbname=k");
        assert_eq!(rest, "host=db  user=k  dbname=k");
        assert_eq!((mode, root), (some("verify-full"), some("/etc/my ca's.pem")));
        let (rest, mode, _) = parts("sslmode=re\\ quire");
        assert_eq!((rest.as_str(), mode), ("", some("re quire")));
        assert_eq!(parts("host=db user=k"), ("host=db user=k".into(), None, None));
    }

    #[test]
    fn a_key_value_string_that_cannot_be_read_is_handed_over_untouched() {
        for broken in ["host=db sslmode", "sslmode='verify-full", "=x sslmode=require", "host= "] {
            assert_eq!(parts(broken), (broken.to_string(), None, None), "{broken:?}");
        }
    }
}
