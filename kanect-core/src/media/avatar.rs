//! Avatars: an uploaded picture cut to its centred square and re-encoded small.
//!
//! The same hostile-input rules as for thumbnails hold (see the `thumbnail` module): only the
//! four plain raster formats, by their bytes; the size the header claims checked against
//! [`ImageLimits`] before any pixel is decoded; pixels only re-encoded, so no metadata (EXIF
//! with a GPS position) of the original is ever served. A square crop from the centre, because
//! avatars are shown round or square everywhere and a face is usually near the middle; the
//! user picks another picture rather than a crop (a cropping UI can come later, in the client).

use super::thumbnail::{decode, encode};
use super::{is_inline_image, sniff, ImageLimits, NotAnImage, Thumbnail};

/// Cuts the image in `bytes` to the largest square about its centre (after its EXIF
/// orientation), scaled down to `edge` × `edge` pixels if larger (never up), and re-encodes it
/// (JPEG, or PNG if it has transparent pixels).
///
/// # Errors
/// [`NotAnImage::Unsupported`] for anything but JPEG, PNG, GIF and WebP (SVG included);
/// [`NotAnImage::TooLarge`] when its header claims more than `limits`, before decoding;
/// [`NotAnImage::Corrupt`] when it does not decode.
///
/// # Blocking
/// CPU work that grows with the image's pixels: call it from a blocking thread.
pub fn avatar(bytes: &[u8], limits: &ImageLimits, edge: u32) -> Result<Thumbnail, NotAnImage> {
    if !is_inline_image(sniff(bytes)) {
        return Err(NotAnImage::Unsupported);
    }
    let (image, orientation) = decode(bytes, limits)?;
    let side = image.width().min(image.height());
    let (x, y) = ((image.width() - side) / 2, (image.height() - side) / 2);
    // Crop before turning: a square turned stays the same square about the centre.
    let square = image.crop_imm(x, y, side, side);
    let edge = edge.max(1);
    let mut small = if side > edge { square.thumbnail_exact(edge, edge) } else { square };
    small.apply_orientation(orientation);
    encode(&small)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
    use std::io::Cursor;

    /// A `width` × `height` picture: green in its centred square, red outside it.
    fn centred(width: u32, height: u32) -> Vec<u8> {
        let side = width.min(height);
        let (x0, y0) = ((width - side) / 2, (height - side) / 2);
        let image = RgbImage::from_fn(width, height, |x, y| {
            let inside = (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y);
            if inside {
                Rgb([0, 200, 0])
            } else {
                Rgb([200, 0, 0])
            }
        });
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
        bytes
    }

    #[test]
    fn a_wide_picture_becomes_its_centred_square_at_the_edge() {
        let made = avatar(&centred(900, 300), &ImageLimits::default(), 256).unwrap();
        assert_eq!((made.width, made.height, made.content_type), (256, 256, "image/jpeg"));
        let decoded = image::load_from_memory(&made.bytes).unwrap().to_rgb8();
        // Only the green square is left: the red sides were cut off (JPEG blurs a little).
        for (x, y) in [(0, 0), (255, 0), (0, 255), (255, 255), (128, 128)] {
            let pixel = decoded.get_pixel(x, y);
            assert!(pixel[1] > 150 && pixel[0] < 60, "({x}, {y}) is {pixel:?}");
        }
    }

    #[test]
    fn a_small_tall_picture_is_cropped_not_upscaled() {
        let made = avatar(&centred(40, 100), &ImageLimits::default(), 256).unwrap();
        assert_eq!((made.width, made.height), (40, 40));
    }

    #[test]
    fn svg_html_and_text_are_not_avatars() {
        for bytes in [&b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"[..], b"<!DOCTYPE html>", b"hello", b""] {
            assert_eq!(avatar(bytes, &ImageLimits::default(), 256), Err(NotAnImage::Unsupported));
        }
    }
}
