//! The display name of an upload.
//!
//! The name a client sends is shown to other people and offered back as the download's name,
//! so it must not lie about the file: a right-to-left override turns `\u{202E}gpj.exe` into
//! what reads as `exe.jpg`, and invisible characters make two names look alike. It is never a
//! path: Kanect stores bytes under ids, so the name only needs to be harmless to show.

/// The longest name kept, in bytes: what common file systems allow in one path component.
pub const NAME_MAX_BYTES: usize = 255;

/// The longest extension (with its dot) kept when a long name is cut: longer "extensions" are
/// just part of the name.
const EXTENSION_MAX_BYTES: usize = 16;

/// The name given when nothing of the client's is left.
const FALLBACK: &str = "file";

/// The file name to display for an upload, made from the one the client sent.
///
/// - Only the last path component is kept: the name is split on both `/` and `\`.
/// - Control characters are dropped, and so are the characters that change how the rest is
///   displayed without being seen: bidirectional embeddings, overrides, isolates and marks
///   (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), line and paragraph separators,
///   and invisible ones (zero-width space, word joiner and the invisible operators, byte-order
///   mark, soft hyphen, Mongolian vowel separator). Zero-width joiner and non-joiner stay:
///   emoji sequences and several scripts (Persian, the Indic ones) need them.
/// - Whitespace at both ends and dots at the start are trimmed, so `..` or `.htaccess` cannot
///   come back as a dot file.
/// - The result has at most [`NAME_MAX_BYTES`] bytes, cut on a character boundary; a short
///   extension (at most 16 bytes with its dot) survives the cut.
/// - An empty result becomes `file`.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let visible: String = last.chars().filter(|&c| !is_hidden(c)).collect();
    let trimmed = visible.trim_start_matches(|c: char| c == '.' || c.is_whitespace()).trim_end();
    if trimmed.is_empty() {
        return FALLBACK.to_owned();
    }
    shorten(trimmed)
}

/// Whether `c` is dropped from names: see [`sanitize_name`].
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{200B}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{180E}'
        )
}

/// `name` cut to [`NAME_MAX_BYTES`], keeping a short extension.
fn shorten(name: &str) -> String {
    if name.len() <= NAME_MAX_BYTES {
        return name.to_owned();
    }
    let extension = match name.rfind('.') {
        Some(dot) if name.len() - dot <= EXTENSION_MAX_BYTES => &name[dot..],
        _ => "",
    };
    let stem = &name[..floor_char_boundary(name, NAME_MAX_BYTES - extension.len())];
    let mut short = stem.trim_end().to_owned();
    short.push_str(extension);
    short
}

/// The largest index ≤ `index` that is a character boundary of `s` (`str::floor_char_boundary`
/// is not stable yet).
fn floor_char_boundary(s: &str, index: usize) -> usize {
    (0..=index.min(s.len())).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_path_component() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("a\\b\\c.txt"), "c.txt");
        assert_eq!(sanitize_name("C:\\Users\\bob\\Desktop\\photo.jpg"), "photo.jpg");
        assert_eq!(sanitize_name("mixed/dirs\\and/name.pdf"), "name.pdf");
        assert_eq!(sanitize_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_name("dir/"), "file");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(sanitize_name("a\0b\nc\r\td\u{7F}e\u{85}f.txt"), "abcdef.txt");
        assert_eq!(sanitize_name("line\u{2028}break\u{2029}.txt"), "linebreak.txt");
    }

    #[test]
    fn bidi_controls_cannot_disguise_the_extension() {
        // Displayed as "exe.jpg" with the override.
        assert_eq!(sanitize_name("\u{202E}gpj.exe"), "gpj.exe");
        assert_eq!(sanitize_name("photo\u{202E}gpj.exe"), "photogpj.exe");
        let every_bidi_control =
            "\u{202A}\u{202B}\u{202C}\u{202D}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}";
        assert_eq!(sanitize_name(&format!("a{every_bidi_control}b.txt")), "ab.txt");
    }

    #[test]
    fn invisible_characters_are_dropped_but_joiners_stay() {
        assert_eq!(sanitize_name("pay\u{200B}pal\u{FEFF}\u{2060}\u{00AD}.pdf"), "paypal.pdf");
        // ZWJ builds this one emoji; ZWNJ is part of Persian spelling.
        assert_eq!(sanitize_name("👨\u{200D}👩\u{200D}👧.png"), "👨\u{200D}👩\u{200D}👧.png");
        assert_eq!(sanitize_name("می\u{200C}خواهم.txt"), "می\u{200C}خواهم.txt");
    }

    #[test]
    fn whitespace_and_leading_dots_are_trimmed() {
        assert_eq!(sanitize_name("  notes.txt \t"), "notes.txt");
        assert_eq!(sanitize_name(".htaccess"), "htaccess");
        assert_eq!(sanitize_name(". . .hidden"), "hidden");
        assert_eq!(sanitize_name("archive.tar.gz"), "archive.tar.gz");
        assert_eq!(sanitize_name("name."), "name.");
    }

    #[test]
    fn nothing_left_becomes_file() {
        for raw in ["", "..", "...", ".", " ", "\u{202E}", "/", "a/..", "\\\\", "\0\u{1}"] {
            assert_eq!(sanitize_name(raw), FALLBACK, "{raw:?}");
        }
    }

    #[test]
    fn a_long_name_is_cut_to_255_bytes_keeping_its_extension() {
        let long = format!("{}.jpeg", "x".repeat(1000));
        let name = sanitize_name(&long);
        assert_eq!(name.len(), NAME_MAX_BYTES);
        assert!(name.ends_with("xx.jpeg"), "{name}");

        // Multi-byte characters: cut on a boundary, so fewer bytes than the limit.
        let long = format!("{}.txt", "é".repeat(1000));
        let name = sanitize_name(&long);
        assert!(name.len() <= NAME_MAX_BYTES && name.len() >= NAME_MAX_BYTES - 1, "{}", name.len());
        assert!(name.ends_with("é.txt"));

        // An "extension" over 16 bytes is not kept apart.
        let long = format!("{}.{}", "y".repeat(300), "z".repeat(16));
        let name = sanitize_name(&long);
        assert_eq!(name, "y".repeat(NAME_MAX_BYTES));

        // At the limit nothing changes; one byte past it is cut.
        let at_limit = format!("{}.md", "a".repeat(NAME_MAX_BYTES - 3));
        assert_eq!(sanitize_name(&at_limit), at_limit);
        let past = format!("b{at_limit}");
        assert_eq!(sanitize_name(&past), format!("b{}.md", "a".repeat(NAME_MAX_BYTES - 4)));
    }

    #[test]
    fn a_long_name_without_a_dot() {
        let name = sanitize_name(&"🐴".repeat(100));
        assert_eq!(name, "🐴".repeat(NAME_MAX_BYTES / 4));
    }
}
