//! Image decoding within limits, and thumbnails.
//!
//! An upload is untrusted: a PNG or JPEG of a few hundred bytes can claim 50,000 × 50,000
//! pixels, which decoded would take 10 GB (a "decompression bomb"). So the decoder first reads
//! only the header, and the image is refused as [`NotAnImage::TooLarge`] from the size it
//! claims, before any pixel buffer is allocated: by width, height, pixel count and the bytes
//! the decoded pixels would take. The `image` crate's own limits (maximum width, height and
//! allocation) are set too, for what its decoders allocate besides the pixels.
//!
//! The thumbnail is resized from the stored pixels and only then turned as the EXIF
//! orientation says: turning the full image first would copy all of it once more. It is
//! re-encoded from pixels only, so none of the original's metadata (EXIF with its GPS
//! position, XMP, comments, colour profiles) comes along.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

/// The JPEG quality of thumbnails: small files, no visible blocks at thumbnail size.
const JPEG_QUALITY: u8 = 80;

/// How large an image [`thumbnail`] accepts, and how large a thumbnail it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLimits {
    /// The widest image decoded, in stored pixels (before EXIF orientation).
    pub max_width: u32,
    /// The tallest image decoded, in stored pixels (before EXIF orientation).
    pub max_height: u32,
    /// The most pixels (width × height) decoded: bounds the memory and time of one decode.
    pub max_pixels: u64,
    /// The most bytes the decoder may allocate, the decoded pixels included (a 16-bit RGBA
    /// image takes 8 bytes a pixel).
    pub max_alloc_bytes: u64,
    /// The longest side of a thumbnail, in pixels (0 is taken as 1); smaller images keep their
    /// size.
    pub thumbnail_edge: u32,
}

impl Default for ImageLimits {
    /// 16,384 px on either side, 50 megapixels (a high-end phone camera's photo), 512 MiB of
    /// decoder memory, thumbnails of 320 px on the long side.
    fn default() -> Self {
        ImageLimits {
            max_width: 16_384,
            max_height: 16_384,
            max_pixels: 50_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            thumbnail_edge: 320,
        }
    }
}

/// An image's size as it is displayed, after its EXIF orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A small copy of an image, to show inline in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The encoded file, with no metadata.
    pub bytes: Vec<u8>,
    /// `image/jpeg` for an opaque image, `image/png` for one with transparent pixels.
    pub content_type: &'static str,
    /// Width in pixels, as displayed.
    pub width: u32,
    /// Height in pixels, as displayed.
    pub height: u32,
}

/// Why [`thumbnail`] made none: the file is then kept and served as a plain file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAnImage {
    /// Not JPEG, PNG, GIF nor WebP, or a variant of one that the decoder does not support.
    #[error("not an image in a supported format")]
    Unsupported,
    /// Its header claims more than the [`ImageLimits`] allow; no pixel was decoded.
    #[error("image larger than the limits")]
    TooLarge,
    /// It starts like a supported image but does not decode: damaged or truncated.
    #[error("image does not decode")]
    Corrupt,
}

impl NotAnImage {
    /// The stable machine code: `unsupported`, `too_large` or `corrupt`.
    pub fn code(self) -> &'static str {
        match self {
            NotAnImage::Unsupported => "unsupported",
            NotAnImage::TooLarge => "too_large",
            NotAnImage::Corrupt => "corrupt",
        }
    }
}

impl From<ImageError> for NotAnImage {
    fn from(error: ImageError) -> Self {
        match error {
            ImageError::Limits(_) => NotAnImage::TooLarge,
            ImageError::Unsupported(_) => NotAnImage::Unsupported,
            // Decoding errors, and I/O errors: reading from memory fails only at the end of
            // the input, that is on a truncated file.
            ImageError::Decoding(_) | ImageError::IoError(_) | ImageError::Parameter(_) | ImageError::Encoding(_) => {
                NotAnImage::Corrupt
            }
        }
    }
}

/// Decodes `bytes`, a whole JPEG, PNG, GIF (its first frame) or WebP file, within `limits`,
/// and makes a thumbnail of it no larger than `limits.thumbnail_edge` on its long side (never
/// upscaled), turned as its EXIF orientation says. Returns the image's displayed size and the
/// thumbnail.
///
/// The format is read from the bytes, not from a content type. An EXIF orientation that
/// cannot be read is taken as none: broken metadata does not make decodable pixels unusable.
///
/// # Errors
/// [`NotAnImage::Unsupported`] for another format, [`NotAnImage::TooLarge`] when the header
/// claims more than `limits` (checked before decoding pixels), [`NotAnImage::Corrupt`] when the
/// file does not decode or is cut short.
///
/// # Blocking
/// Decoding, resizing and encoding are CPU work that grows with the image's pixels. Call this from a blocking thread (`tokio::task::spawn_blocking`), never on an async worker.
pub fn thumbnail(bytes: &[u8], limits: &ImageLimits) -> Result<(ImageInfo, Thumbnail), NotAnImage> {
    let (image, orientation) = decode(bytes, limits)?;
    let (width, height) = (image.width(), image.height());
    let (small_width, small_height) = fit(width, height, limits.thumbnail_edge);
    let mut small = if (small_width, small_height) == (width, height) {
        image
    } else {
        image.thumbnail_exact(small_width, small_height)
    };
    small.apply_orientation(orientation);

    let info =
        if swaps_sides(orientation) { ImageInfo { width: height, height: width } } else { ImageInfo { width, height } };
    Ok((info, encode(&small)?))
}

/// Decodes `bytes` within `limits`, refusing from the header what claims more than they allow
/// before a pixel is decoded. Returns the stored pixels and the EXIF orientation to apply.
pub(super) fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<(DynamicImage, Orientation), NotAnImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(ImageError::IoError)?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(NotAnImage::Corrupt);
    }

    // Headers only so far.
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if width > limits.max_width
        || height > limits.max_height
        || u64::from(width) * u64::from(height) > limits.max_pixels
        || decoder.total_bytes() > limits.max_alloc_bytes
    {
        return Err(NotAnImage::TooLarge);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok((DynamicImage::from_decoder(decoder)?, orientation))
}

/// Whether a JPEG file has its end-of-image marker after its last scan.
///
/// The JPEG decoder is lenient: a file cut inside its entropy-coded data decodes, the missing
/// rows left grey. A cut file is what a failed upload leaves, so it is refused here. Inside
/// entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so the last
/// start-of-scan (FF DA) and end-of-image (FF D9) markers in the file are real ones (an EXIF
/// thumbnail's come before the image's own scan).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|pair| pair == [0xFF, marker]);
    matches!((last(0xDA), last(0xD9)), (Some(scan), Some(end)) if end > scan)
}

/// The size of `width` × `height` scaled down so its long side is at most `edge`, keeping its
/// aspect ratio (rounded, at least 1 px); never larger than it is.
fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let edge = edge.max(1);
    let long = width.max(height);
    if long <= edge {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(edge) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(edge).clamp(1, edge)
    };
    (scale(width), scale(height))
}

/// Whether `orientation` turns the image a quarter, so that width and height trade places.
fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

/// `image` encoded as a JPEG, or as a PNG when it has a pixel that is not fully opaque.
pub(super) fn encode(image: &DynamicImage) -> Result<Thumbnail, NotAnImage> {
    let mut bytes = Vec::new();
    // Decided by the pixels, not the colour type: every GIF decodes as RGBA, most are opaque.
    let rgba = image.to_rgba8();
    let content_type = if rgba.pixels().any(|pixel| pixel[3] < u8::MAX) {
        rgba.write_with_encoder(PngEncoder::new(&mut bytes))?;
        "image/png"
    } else {
        image.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY))?;
        "image/jpeg"
    };
    Ok(Thumbnail { bytes, content_type, width: image.width(), height: image.height() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

    /// A `width` × `height` image: red on its left half, blue on its right.
    fn halves(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, _| if x < width / 2 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) })
    }

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
        bytes
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        encoded(&DynamicImage::ImageRgb8(halves(width, height)), ImageFormat::Jpeg)
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        encoded(&DynamicImage::ImageRgb8(halves(width, height)), ImageFormat::Png)
    }

    /// Checks the thumbnail is what it says it is: its bytes decode to its size and type.
    fn decoded(thumb: &Thumbnail) -> DynamicImage {
        assert_eq!(crate::sniff(&thumb.bytes), thumb.content_type);
        let image = image::load_from_memory(&thumb.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (thumb.width, thumb.height));
        image
    }

    /// The CRC of a PNG chunk (type and data).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
        chunk
    }

    /// `jpeg` with an EXIF segment saying `orientation`, right after its start-of-image marker.
    fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
        let mut tiff = b"MM\0\x2A\0\0\0\x08".to_vec(); // big-endian, first IFD at 8
        tiff.extend_from_slice(&[0, 1]); // one entry:
        tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]); // Orientation, SHORT, 1
        tiff.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&(2 + 6 + tiff.len() as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&tiff);
        [&jpeg[..2], &app1, &jpeg[2..]].concat()
    }

    #[test]
    fn every_format_thumbnails_to_the_edge_keeping_its_aspect() {
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP] {
            for ((width, height), expected) in [((1000, 500), (320, 160)), ((300, 900), (107, 320))] {
                let bytes = encoded(&DynamicImage::ImageRgb8(halves(width, height)), format);
                let (info, thumb) = thumbnail(&bytes, &ImageLimits::default()).unwrap();
                assert_eq!(info, ImageInfo { width, height }, "{format:?}");
                assert_eq!((thumb.width, thumb.height), expected, "{format:?}");
                assert_eq!(thumb.content_type, "image/jpeg", "{format:?}: opaque");
                let small = decoded(&thumb).to_rgb8();
                // Still red on the left, blue on the right.
                assert!(small.get_pixel(2, 2)[0] > 200 && small.get_pixel(2, 2)[2] < 60, "{format:?}");
                let right = small.get_pixel(expected.0 - 3, 2);
                assert!(right[2] > 200 && right[0] < 60, "{format:?}");
            }
        }
    }

    #[test]
    fn a_gif_gives_its_first_frame() {
        use image::codecs::gif::GifEncoder;
        use image::Frame;
        let mut bytes = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut bytes);
            for colour in [Rgba([0, 255, 0, 255]), Rgba([255, 0, 255, 255])] {
                encoder.encode_frame(Frame::new(RgbaImage::from_pixel(8, 8, colour))).unwrap();
            }
        }
        let (_, thumb) = thumbnail(&bytes, &ImageLimits::default()).unwrap();
        let pixel = *decoded(&thumb).to_rgb8().get_pixel(4, 4);
        assert!(pixel[1] > 200 && pixel[0] < 60, "{pixel:?}");
    }

    #[test]
    fn a_small_image_is_not_upscaled() {
        let (info, thumb) = thumbnail(&png(40, 30), &ImageLimits::default()).unwrap();
        assert_eq!(info, ImageInfo { width: 40, height: 30 });
        assert_eq!((thumb.width, thumb.height), (40, 30));
        // At the edge exactly: kept as it is too; one past: scaled down.
        assert_eq!(thumbnail_size(&png(320, 10)), (320, 10));
        assert_eq!(thumbnail_size(&png(321, 10)), (320, 10));
        assert_eq!(thumbnail_size(&png(10, 642)), (5, 320));
        // A sliver keeps at least one pixel.
        assert_eq!(thumbnail_size(&png(2000, 1)), (320, 1));
    }

    #[test]
    fn an_edge_of_zero_gives_one_pixel() {
        let limits = ImageLimits { thumbnail_edge: 0, ..ImageLimits::default() };
        let (_, thumb) = thumbnail(&png(30, 20), &limits).unwrap();
        assert_eq!((thumb.width, thumb.height), (1, 1));
    }

    fn thumbnail_size(bytes: &[u8]) -> (u32, u32) {
        let (_, thumb) = thumbnail(bytes, &ImageLimits::default()).unwrap();
        (thumb.width, thumb.height)
    }

    #[test]
    fn transparency_gives_a_png_thumbnail() {
        let mut image = RgbaImage::from_pixel(50, 50, Rgba([10, 20, 30, 255]));
        image.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        let bytes = encoded(&DynamicImage::ImageRgba8(image.clone()), ImageFormat::Png);
        let (_, thumb) = thumbnail(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(thumb.content_type, "image/png");
        assert_eq!(decoded(&thumb).to_rgba8().get_pixel(0, 0)[3], 0);

        // An alpha channel with every pixel opaque is a JPEG.
        image.put_pixel(0, 0, Rgba([0, 0, 0, 255]));
        let bytes = encoded(&DynamicImage::ImageRgba8(image), ImageFormat::Png);
        assert_eq!(thumbnail(&bytes, &ImageLimits::default()).unwrap().1.content_type, "image/jpeg");
    }

    #[test]
    fn exif_orientation_6_turns_the_image_a_quarter() {
        let bytes = with_exif_orientation(&jpeg(640, 320), 6);
        assert!(bytes.windows(4).any(|window| window == b"Exif"));
        let (info, thumb) = thumbnail(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(info, ImageInfo { width: 320, height: 640 });
        assert_eq!((thumb.width, thumb.height), (160, 320));
        // Turned clockwise: the left (red) half is now on top.
        let small = decoded(&thumb).to_rgb8();
        let (top, bottom) = (small.get_pixel(80, 10), small.get_pixel(80, 310));
        assert!(top[0] > 200 && top[2] < 60, "{top:?}");
        assert!(bottom[2] > 200 && bottom[0] < 60, "{bottom:?}");
        // The thumbnail carries no EXIF (nor any APP1 segment).
        assert!(!thumb.bytes.windows(4).any(|window| window == b"Exif"));
        assert!(!thumb.bytes.windows(2).any(|window| window == [0xFF, 0xE1]));

        // Orientation 3 (half a turn) keeps the sides; a small image is turned too.
        let (info, thumb) = thumbnail(&with_exif_orientation(&jpeg(64, 32), 3), &ImageLimits::default()).unwrap();
        assert_eq!((info.width, info.height, thumb.width, thumb.height), (64, 32, 64, 32));
        let left = *decoded(&thumb).to_rgb8().get_pixel(2, 16);
        assert!(left[2] > 200 && left[0] < 60, "blue now on the left: {left:?}");
        let (info, _) = thumbnail(&with_exif_orientation(&jpeg(64, 32), 8), &ImageLimits::default()).unwrap();
        assert_eq!(info, ImageInfo { width: 32, height: 64 });
    }

    #[test]
    fn a_png_bomb_is_refused_from_its_header() {
        // 50,000 × 50,000 RGBA would be 10 GB decoded; the file is under a hundred bytes.
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no filter, no interlace
        let bomb = [
            &b"\x89PNG\r\n\x1A\n"[..],
            &png_chunk(b"IHDR", &ihdr),
            &png_chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]),
            &png_chunk(b"IEND", &[]),
        ]
        .concat();
        assert!(bomb.len() < 100);
        assert_eq!(thumbnail(&bomb, &ImageLimits::default()), Err(NotAnImage::TooLarge));
        // Also when the limits on sides would let it through: the pixel count does not.
        let wide_open = ImageLimits { max_width: u32::MAX, max_height: u32::MAX, ..ImageLimits::default() };
        assert_eq!(thumbnail(&bomb, &wide_open), Err(NotAnImage::TooLarge));
    }

    #[test]
    fn a_jpeg_bomb_is_refused_from_its_header() {
        let mut bomb = jpeg(16, 16);
        let sof = bomb.windows(2).position(|pair| pair == [0xFF, 0xC0]).unwrap();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0xC3, 0x50, 0xC3, 0x50]); // 50,000 × 50,000
        assert_eq!(thumbnail(&bomb, &ImageLimits::default()), Err(NotAnImage::TooLarge));
        let wide_open = ImageLimits { max_width: u32::MAX, max_height: u32::MAX, ..ImageLimits::default() };
        assert_eq!(thumbnail(&bomb, &wide_open), Err(NotAnImage::TooLarge));
    }

    #[test]
    fn each_limit_holds_at_its_value_and_refuses_past_it() {
        let bytes = png(100, 50); // 8-bit RGB: 15,000 bytes decoded
        let at = ImageLimits {
            max_width: 100,
            max_height: 50,
            max_pixels: 5000,
            max_alloc_bytes: 15_000,
            thumbnail_edge: 320,
        };
        assert!(thumbnail(&bytes, &at).is_ok());
        for past in [
            ImageLimits { max_width: 99, ..at.clone() },
            ImageLimits { max_height: 49, ..at.clone() },
            ImageLimits { max_pixels: 4999, ..at.clone() },
            ImageLimits { max_alloc_bytes: 14_999, ..at.clone() },
        ] {
            assert_eq!(thumbnail(&bytes, &past), Err(NotAnImage::TooLarge), "{past:?}");
        }
    }

    #[test]
    fn truncated_images_are_corrupt() {
        // Cut in the header, in the pixel data, and (JPEG) just before the end-of-image marker,
        // which the lenient JPEG decoder would otherwise not miss.
        let jpeg = jpeg(200, 100);
        let png = png(200, 100);
        for bytes in [&jpeg[..20], &jpeg[..jpeg.len() / 2], &jpeg[..jpeg.len() - 2], &png[..20], &png[..png.len() / 2]]
        {
            assert_eq!(thumbnail(bytes, &ImageLimits::default()), Err(NotAnImage::Corrupt), "{}", bytes.len());
        }
        let webp = encoded(&DynamicImage::ImageRgb8(halves(200, 100)), ImageFormat::WebP);
        assert_eq!(thumbnail(&webp[..webp.len() / 2], &ImageLimits::default()), Err(NotAnImage::Corrupt));
    }

    #[test]
    fn a_png_signature_with_garbage_after_is_corrupt() {
        let mut bytes = b"\x89PNG\r\n\x1A\n".to_vec();
        bytes.extend((0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        assert_eq!(thumbnail(&bytes, &ImageLimits::default()), Err(NotAnImage::Corrupt));
        // A valid header with a damaged CRC is corrupt too.
        let mut bytes = png(20, 20);
        bytes[29] ^= 0xFF;
        assert_eq!(thumbnail(&bytes, &ImageLimits::default()), Err(NotAnImage::Corrupt));
    }

    #[test]
    fn other_formats_and_random_bytes_are_unsupported() {
        let random: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
        // Formats the `image` crate knows but Kanect does not decode: BMP, TIFF.
        let bmp = [&b"BM"[..], &[0; 60]].concat();
        let tiff = [&b"II*\0"[..], &[0; 60]].concat();
        for bytes in [&random[..], b"", b"hello, bob", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", &bmp, &tiff] {
            assert_eq!(thumbnail(bytes, &ImageLimits::default()), Err(NotAnImage::Unsupported));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever follows an image signature, decoding ends in a result, never a panic.
        #[test]
        fn any_bytes_after_a_signature_decode_or_fail(
            magic in proptest::sample::select(vec![
                &b"\x89PNG\r\n\x1A\n"[..], b"\xFF\xD8\xFF", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8L",
            ]),
            rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let _ = thumbnail(&[magic, &rest].concat(), &ImageLimits::default());
        }
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(NotAnImage::Unsupported.code(), "unsupported");
        assert_eq!(NotAnImage::TooLarge.code(), "too_large");
        assert_eq!(NotAnImage::Corrupt.code(), "corrupt");
    }
}
