//! Snippets: the part of a message around its first match, as text segments with the matched
//! words marked. Never HTML: a client renders each segment as text (a highlighted one, say, in
//! bold), so a body full of markup stays text.
//!
//! The engine cuts them from the stored body, for every backend alike: the body it reads to
//! check the hit anyway is the truth, and so the conformance suite can expect one snippet.

use super::query::token_spans;
use super::Terms;
use std::collections::HashSet;

/// A snippet shows at most this many characters of the body (plus an ellipsis at a cut end).
pub const SNIPPET_CHARS: usize = 160;

/// How many characters before the first match a cut snippet starts.
const LEAD_CHARS: usize = 40;

/// One piece of a snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnippetPart {
    /// The text, as it is in the body (an ellipsis `…` where the body was cut).
    pub text: String,
    /// Whether it is a word the query matched.
    pub hit: bool,
}

/// The snippet of `body` for `terms`: the whole body if it is short, else
/// [`SNIPPET_CHARS`] characters starting a little before the first matched word.
pub fn snippet(body: &str, terms: &Terms) -> Vec<SnippetPart> {
    let wanted: HashSet<&str> = terms.highlighted().collect();
    let hits: Vec<(usize, usize)> =
        token_spans(body).into_iter().filter(|&(s, e)| wanted.contains(body[s..e].to_lowercase().as_str())).collect();
    // Byte offsets of every char, and the end.
    let bounds: Vec<usize> = body.char_indices().map(|(at, _)| at).chain([body.len()]).collect();
    let chars = bounds.len() - 1;
    let (mut from, mut to) = (0, chars);
    if chars > SNIPPET_CHARS {
        let first = hits.first().map_or(0, |&(s, _)| bounds.partition_point(|&b| b < s));
        from = first.saturating_sub(LEAD_CHARS).min(chars - SNIPPET_CHARS);
        to = from + SNIPPET_CHARS;
    }
    let (start, end) = (bounds[from], bounds[to]);
    let mut parts = Vec::new();
    let mut plain = String::new();
    if start > 0 {
        plain.push('…');
    }
    let mut at = start;
    for (s, e) in hits.into_iter().filter(|&(s, e)| s >= start && e <= end) {
        plain.push_str(&body[at..s]);
        if !plain.is_empty() {
            parts.push(SnippetPart { text: std::mem::take(&mut plain), hit: false });
        }
        parts.push(SnippetPart { text: body[s..e].to_string(), hit: true });
        at = e;
    }
    plain.push_str(&body[at..end]);
    if end < body.len() {
        plain.push('…');
    }
    if !plain.is_empty() {
        parts.push(SnippetPart { text: plain, hit: false });
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(parts: &[SnippetPart]) -> String {
        parts.iter().map(|p| if p.hit { format!("[{}]", p.text) } else { p.text.clone() }).collect()
    }

    #[test]
    fn short_bodies_are_whole_with_every_match_marked() {
        let terms = Terms::parse("lunch at").unwrap();
        assert_eq!(render(&snippet("We had LUNCH at noon; lunch!", &terms)), "We had [LUNCH] [at] noon; [lunch]!");
        assert_eq!(render(&snippet("<b>lunch</b>", &terms)), "<b>[lunch]</b>");
        assert_eq!(render(&snippet("", &terms)), "");
    }

    #[test]
    fn long_bodies_are_cut_around_the_first_match() {
        let terms = Terms::parse("needle").unwrap();
        let body = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let parts = snippet(&body, &terms);
        let text = render(&parts);
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        assert!(text.contains("[needle]"));
        assert_eq!(parts.iter().map(|p| p.text.chars().count()).sum::<usize>(), SNIPPET_CHARS + 2);
        // A match near the end: the window ends at the body's end.
        let body = format!("{}needle", "é ".repeat(150));
        let text = render(&snippet(&body, &terms));
        assert!(text.starts_with('…') && text.ends_with("[needle]"), "{text}");
        // No match (a phrase's words elsewhere): the start of the body.
        let text = render(&snippet(&"word ".repeat(100), &terms));
        assert!(text.starts_with("word") && text.ends_with('…'));
    }
}
