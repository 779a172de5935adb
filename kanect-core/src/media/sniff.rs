//! The content type of an upload, read from its first bytes.
//!
//! Magic numbers come from the `infer` crate rather than a table of our own: it knows some
//! hundred formats (office documents, archives, audio, video) and is kept up to date by others.
//! Three rules sit on top of it, because what this type decides is how a browser treats the
//! bytes when Kanect serves them:
//! - Markup is never sniffed as anything a browser renders. A file that starts (after
//!   whitespace and a byte-order mark) with `<` is HTML, SVG or XML: it is text at best, never
//!   `text/html` nor an image type, whatever magic number appears later in it (`infer` looks
//!   for `%PDF` anywhere in the first KiB, for one).
//! - `infer`'s own text matchers (HTML, XML, shell scripts) are ignored for the same reason;
//!   text is decided here.
//! - The four image types Kanect serves inline need their full signature: `infer` takes any
//!   file starting with `GIF` for a GIF, so a note that begins "GIF ideas" would otherwise be
//!   an image.

/// How many leading bytes of a file [`sniff`] looks at; pass it at most this many.
///
/// More than the 4 KiB most magic numbers need: `infer` tells a Word, Excel or PowerPoint
/// file from a plain ZIP by finding the ZIP entry names that follow the first entries, which
/// are often a few KiB in.
pub const SNIFF_BYTES: usize = 8192;

/// The type of text that is valid UTF-8.
const TEXT: &str = "text/plain; charset=utf-8";
/// The type of anything else.
const BINARY: &str = "application/octet-stream";

/// The content type of a file, read from the bytes themselves: the client's claim is never
/// trusted.
///
/// `head` is the start of the file, up to [`SNIFF_BYTES`] of it (more is allowed and ignored).
/// Known formats get their registered type (`image/png`, `application/pdf`,
/// `application/zip`, `application/vnd.openxmlformats-officedocument.wordprocessingml.document`,
/// `audio/mpeg`, `video/mp4`, ...). Otherwise a head that is valid UTF-8 without NUL bytes is
/// `text/plain; charset=utf-8` (a multi-byte character cut at the end of the head is allowed,
/// since the head is usually cut from a longer file), including HTML and SVG; anything else is
/// `application/octet-stream`.
///
/// A type never says that the file decodes: a PNG signature followed by garbage is
/// `image/png`. See [`is_inline_image`](super::is_inline_image).
pub fn sniff(head: &[u8]) -> &'static str {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    if !starts_with_markup(head) {
        if let Some(kind) = infer::get(head) {
            if kind.matcher_type() != infer::MatcherType::Text && signature_holds(kind.mime_type(), head) {
                return kind.mime_type();
            }
        }
    }
    if is_utf8_text(head) {
        TEXT
    } else {
        BINARY
    }
}

/// Whether `head`, after whitespace and byte-order marks, opens with `<`: HTML, SVG, XML.
fn starts_with_markup(head: &[u8]) -> bool {
    let mut rest = head;
    loop {
        rest = rest.trim_ascii_start();
        match rest.strip_prefix(b"\xEF\xBB\xBF") {
            Some(after_bom) => rest = after_bom,
            None => return rest.first() == Some(&b'<'),
        }
    }
}

/// Whether the full signature of an inline image type is there (for other types `infer`'s
/// match stands).
fn signature_holds(mime_type: &str, head: &[u8]) -> bool {
    match mime_type {
        "image/jpeg" => head.starts_with(b"\xFF\xD8\xFF"),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1A\n"),
        "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        "image/webp" => head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"),
        _ => true,
    }
}

/// Whether `head` is UTF-8 without NUL bytes, allowing a character cut off at its end.
fn is_utf8_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None`: the input ended inside a character that was valid so far.
        Err(error) => error.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_signature() -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR".to_vec();
        bytes.extend_from_slice(&[0; 17]);
        bytes
    }

    #[test]
    fn images_by_their_signatures() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"), "image/jpeg");
        assert_eq!(sniff(&png_signature()), "image/png");
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0\0\0\0"), "image/gif");
        assert_eq!(sniff(b"GIF87a\x01\0\x01\0\0\0\0"), "image/gif");
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), "image/webp");
    }

    #[test]
    fn documents_archives_and_media() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"), "application/pdf");
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0\x08\0"), "application/zip");
        assert_eq!(sniff(b"\x1F\x8B\x08\0\0\0\0\0"), "application/gzip");
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), "audio/mpeg");
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"), "video/mp4");
        let mut opus = b"OggS\0\x02".to_vec();
        opus.resize(28, 0);
        opus.extend_from_slice(b"OpusHead\x01\x02");
        assert_eq!(sniff(&opus), "audio/opus");
        // An old Office file too short for its directory to be read is still a compound file.
        let ole = [&b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..], &[0; 504]].concat();
        assert_eq!(sniff(&ole), "application/x-ole-storage");
    }

    #[test]
    fn office_documents_from_their_zip_entries() {
        // A .docx starts with [Content_Types].xml and _rels/.rels, then word/...: `infer` reads
        // the names of the first four entries. Here local file headers with 32 bytes of data.
        let mut docx = Vec::new();
        for name in ["[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/styles.xml"] {
            docx.extend_from_slice(b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0");
            docx.extend_from_slice(&32u32.to_le_bytes()); // compressed size
            docx.extend_from_slice(&32u32.to_le_bytes()); // size
            docx.extend_from_slice(&(name.len() as u16).to_le_bytes());
            docx.extend_from_slice(&[0, 0]);
            docx.extend_from_slice(name.as_bytes());
            docx.extend_from_slice(&[b'x'; 32]);
        }
        assert_eq!(sniff(&docx), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    }

    #[test]
    fn markup_is_text_never_html_nor_an_image() {
        let markup: [&[u8]; 8] = [
            b"<!doctype html><html><body>hi</body></html>",
            b"<html><script>alert(1)</script></html>",
            b"  \n\t<HTML>",
            b"\xEF\xBB\xBF<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"<!-- comment --><p>",
            // A magic number later in the file changes nothing.
            b"<html>%PDF-1.4</html>",
            b"\xEF\xBB\xBF \xEF\xBB\xBF<a href=x>",
        ];
        for bytes in markup {
            assert_eq!(sniff(bytes), TEXT, "{:?}", String::from_utf8_lossy(bytes));
        }
        // Markup that is not UTF-8 is binary, still never html or an image.
        assert_eq!(sniff(b"<html>\xFF\xFE</html>"), BINARY);
        assert_eq!(sniff(b"<svg>\0</svg>"), BINARY);
        assert_eq!(sniff(b"<svg>\x89PNG\r\n\x1A\n</svg>"), BINARY);
    }

    #[test]
    fn a_loose_image_magic_in_text_is_text() {
        // `infer` alone calls these GIF and WebP.
        assert_eq!(sniff(b"GIF ideas for the party"), TEXT);
        assert_eq!(sniff(b"notes 1 WEBP and more"), TEXT);
        assert_eq!(sniff(b"\x89PNG but not a png"), BINARY);
    }

    #[test]
    fn utf8_text_even_when_cut_inside_a_character() {
        assert_eq!(sniff(b"hello, bob\n"), TEXT);
        assert_eq!(sniff("žluťoučký kůň 🐴".as_bytes()), TEXT);
        let cut = "🐴🐴".as_bytes();
        assert_eq!(sniff(&cut[..6]), TEXT);
        // Invalid in the middle, or a NUL, is binary.
        assert_eq!(sniff(b"abc\xFFdef"), BINARY);
        assert_eq!(sniff(b"abc\0def"), BINARY);
        // A stray continuation byte at the end is not a cut character.
        assert_eq!(sniff(b"abc\x80"), BINARY);
    }

    #[test]
    fn binary_and_empty_are_octet_stream() {
        assert_eq!(sniff(b""), BINARY);
        assert_eq!(sniff(&[0x00, 0x01, 0x02, 0xFE, 0xFF, 0x10, 0x80]), BINARY);
    }

    proptest::proptest! {
        /// Markup, whatever follows it, is text or binary: never html, XML or an image.
        #[test]
        fn markup_never_renders(
            start in proptest::sample::select(vec!["<html>", "<!DOCTYPE html>", "<svg ", "<?xml ", " \n<", "\u{FEFF}<"]),
            rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let kind = sniff(&[start.as_bytes(), &rest].concat());
            proptest::prop_assert!(kind == TEXT || kind == BINARY, "{}", kind);
        }

        /// Any bytes get a type without a panic, also past the compound-file (old Office)
        /// signature, whose directory `infer` parses.
        #[test]
        fn any_head_gets_a_type(
            ole in proptest::prelude::any::<bool>(),
            rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..SNIFF_BYTES),
        ) {
            let magic: &[u8] = if ole { b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" } else { b"" };
            let kind = sniff(&[magic, &rest].concat());
            proptest::prop_assert!(!kind.is_empty());
        }
    }

    #[test]
    fn only_the_first_sniff_bytes_count() {
        let mut text = vec![b'a'; SNIFF_BYTES];
        text.push(0);
        assert_eq!(sniff(&text), TEXT);
        text.truncate(SNIFF_BYTES - 1);
        text.push(0);
        assert_eq!(sniff(&text), BINARY);
    }
}
