//! What Kanect reads from an uploaded file before it keeps it: its real content type, a
//! display name that cannot mislead, and for images their size and a thumbnail.
//!
//! These are pure functions over bytes and strings: the engine decides when to call them and
//! what to store. Everything here treats its input as hostile, because an attachment is
//! served back from Kanect's own origin to other members:
//! - The content type comes from the bytes ([`sniff`]), never from the client, and only the
//!   four plain raster formats are ever shown inline ([`is_inline_image`]); HTML, SVG and
//!   everything else is served as a download.
//! - The display name is reduced to one harmless path component ([`sanitize_name`]).
//! - Decoding an image is bounded in pixels and memory before any pixel is decoded
//!   ([`thumbnail`], [`ImageLimits`]), and a thumbnail carries none of the original's metadata.
//!
//! Modules: `sniff` — content types; `name` — display names; `thumbnail` — decoding and
//! thumbnails; `avatar` — square avatars.

mod avatar;
mod name;
mod sniff;
mod thumbnail;

pub use avatar::avatar;
pub use name::{sanitize_name, NAME_MAX_BYTES};
pub use sniff::{sniff, SNIFF_BYTES};
pub use thumbnail::{thumbnail, ImageInfo, ImageLimits, NotAnImage, Thumbnail};

/// Whether Kanect serves a file of `content_type` (as returned by [`sniff`]) inline, as an
/// image: only JPEG, PNG, GIF and WebP. Everything else, SVG included (it can carry scripts),
/// is served as a download.
///
/// A type from [`sniff`] says only how the file starts: serve a file inline only once
/// [`thumbnail`] has decoded it too.
pub fn is_inline_image(content_type: &str) -> bool {
    matches!(content_type, "image/jpeg" | "image/png" | "image/gif" | "image/webp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_raster_types_are_inline() {
        for inline in ["image/jpeg", "image/png", "image/gif", "image/webp"] {
            assert!(is_inline_image(inline), "{inline}");
        }
        for download in [
            "image/svg+xml",
            "text/html",
            "text/plain; charset=utf-8",
            "application/pdf",
            "image/tiff",
            "image/bmp",
            "image/avif",
            "application/octet-stream",
            "IMAGE/PNG",
            "image/png; charset=utf-8",
            "",
        ] {
            assert!(!is_inline_image(download), "{download}");
        }
    }

    #[test]
    fn a_sniffed_markup_file_is_never_inline() {
        for markup in [&b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"[..], b"<!DOCTYPE html><img src=x>"] {
            assert!(!is_inline_image(sniff(markup)));
        }
    }
}
