//! Attachments over HTTP: the upload (`POST /attachments`, the file's bytes as the body), the
//! download (`GET /attachments/{id}`, with single ranges and `ETag`) and an image's thumbnail.
//!
//! The upload streams: the body goes to the engine a chunk at a time as it arrives, under its
//! own read deadline (`HttpConfig::upload_read_timeout`), and the engine cuts it off at the
//! size limit. Any refusal closes the connection, since the body may not have been read.
//!
//! The download never lets a browser run what it serves: `X-Content-Type-Options: nosniff`,
//! `Content-Security-Policy: sandbox` (a page opened from it has no script, no origin), and
//! `Content-Disposition: attachment` for every type but the images a browser renders inertly.

use super::request::{path_id, Query};
use crate::conditional::{none_match, not_modified};
use crate::error::{json_response, ApiError, Body, BoxError};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::ToWire;
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Body as _, Frame};
use hyper::header::{
    HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, RANGE,
};
use hyper::{Request, Response, StatusCode};
use kanect_core::{AttachmentId, AttachmentPart, Caller};
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

type Reply = Result<Response<Body>, ApiError>;

/// `POST /attachments?name=`: stores the body as a file of the caller's, unsent.
pub(crate) async fn upload(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let name = Query::of(&request).text("name").unwrap_or_default().to_owned();
    let length = match request.headers().get(CONTENT_LENGTH) {
        None => None,
        Some(value) => Some(value.to_str().ok().and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
            ApiError::bad_input("invalid_header", "content-length", "Content-Length is not a number").closing()
        })?),
    };
    let limit = app.config.upload_read_timeout;
    let timed_out = Arc::new(AtomicBool::new(false));
    let body = Upload {
        body: request.into_body(),
        deadline: Box::pin(tokio::time::sleep(limit)),
        timed_out: timed_out.clone(),
    };
    match app.chat.upload(caller, &name, length, Box::pin(body)).await {
        Ok(meta) => Ok(json_response(StatusCode::CREATED, &meta.to_wire())),
        Err(_) if timed_out.load(Ordering::Relaxed) => Err(ApiError::request_timeout(limit)),
        Err(error) => Err(ApiError::from(error).closing()),
    }
}

/// An upload's body as the engine reads it: data chunks until the end, or an error once the
/// read deadline passes (noted in `timed_out`) or the connection fails.
struct Upload {
    body: RequestBody,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl Stream for Upload {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(std::io::Error::from(std::io::ErrorKind::TimedOut))));
        }
        loop {
            return match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_trailers) => continue,
                },
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(std::io::Error::other(error)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// `GET /attachments/{id}` and `GET /attachments/{id}/thumbnail`.
pub(super) async fn download<B>(
    app: &App,
    caller: &Caller,
    id: &str,
    part: AttachmentPart,
    request: &Request<B>,
) -> Reply {
    let id: AttachmentId = path_id(id)?;
    let meta = app.chat.attachment(caller, id).await?;
    if part == AttachmentPart::Thumbnail && meta.image.is_none() {
        return Err(kanect_core::Error::NotFound(kanect_core::Entity::Attachment).into());
    }
    let etag = match part {
        AttachmentPart::File => format!("\"{}\"", meta.sha256),
        AttachmentPart::Thumbnail => format!("\"{}-thumbnail\"", meta.sha256),
    };
    if none_match(request.headers(), &etag) {
        let mut response = not_modified();
        response.headers_mut().insert(ETAG, header(&etag));
        return Ok(response);
    }
    // Ranges are for the file (resuming a large download, seeking in a video); a thumbnail is
    // sent whole.
    let range = match part {
        AttachmentPart::File => match request.headers().get(RANGE).and_then(|v| v.to_str().ok()) {
            Some(value) => match byte_range(value, meta.size) {
                Ranged::Whole => None,
                Ranged::Part(range) => Some(range),
                Ranged::Unsatisfiable => return Ok(unsatisfiable(meta.size)),
            },
            None => None,
        },
        AttachmentPart::Thumbnail => None,
    };
    let read = app.chat.read_attachment(caller, id, part, range.clone()).await?;
    let size = read.blob.size;
    let length = range.as_ref().map_or(size, |range| range.end - range.start);
    let chunks = Chunks(read.blob.bytes);
    let mut response = Response::new(StreamBody::new(chunks).boxed_unsync());
    if let Some(range) = &range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let content_range = format!("bytes {}-{}/{size}", range.start, range.end.saturating_sub(1));
        response.headers_mut().insert(CONTENT_RANGE, header(&content_range));
    }
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, header(&read.content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(ETAG, header(&etag));
    if part == AttachmentPart::File {
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    // Private, and checked again at every use (a cheap 304 with the ETag): a member removed,
    // a message deleted or a log-out on a shared machine must not leave it readable from the
    // browser's cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    let disposition = if read.inline { "inline" } else { "attachment" };
    headers.insert(CONTENT_DISPOSITION, header(&content_disposition(disposition, &meta.name)));
    Ok(response)
}

/// The blob's chunks as response body frames.
struct Chunks(kanect_core::blob::ByteStream);

impl Stream for Chunks {
    type Item = Result<Frame<Bytes>, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx).map(|chunk| chunk.map(|chunk| chunk.map(Frame::data).map_err(BoxError::from)))
    }
}

/// A header value from text the server made (ASCII by construction; anything else is dropped
/// to an empty value rather than fail the response).
pub(super) fn header(value: &str) -> HeaderValue {
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a `Range` header asks of a blob of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// Nothing usable (another unit, several ranges, bad syntax): send it whole, as RFC 9110
    /// allows.
    Whole,
    /// These bytes.
    Part(Range<u64>),
    /// A range that starts past the end: `416`.
    Unsatisfiable,
}

/// Reads one `bytes=` range: `a-b`, `a-` or `-n` (the last n bytes).
fn byte_range(value: &str, size: u64) -> Ranged {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Ranged::Whole };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ranged::Whole };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // The last n bytes.
        (true, _, Some(0)) => Ranged::Unsatisfiable,
        (true, _, Some(suffix)) if size == 0 => {
            let _ = suffix;
            Ranged::Unsatisfiable
        }
        (true, _, Some(suffix)) => Ranged::Part(size.saturating_sub(suffix)..size),
        (false, Some(start), _) if start >= size => Ranged::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => Ranged::Part(start..size),
        (false, Some(start), Some(end)) if end >= start => Ranged::Part(start..end.saturating_add(1).min(size)),
        _ => Ranged::Whole,
    }
}

/// `416 Range Not Satisfiable`, with the size.
fn unsatisfiable(size: u64) -> Response<Body> {
    let error =
        ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", format!("the file has {size} bytes"));
    let mut response = error.into_response();
    response.headers_mut().insert(CONTENT_RANGE, header(&format!("bytes */{size}")));
    response
}

/// `Content-Disposition` with the file name: an ASCII fallback, and the name itself as
/// RFC 8187 `filename*` (UTF-8, percent-encoded).
fn content_disposition(disposition: &str, name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        match byte {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => encoded.push(byte as char),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(byte_range("bytes=0-0", 10), Ranged::Part(0..1));
        assert_eq!(byte_range("bytes=2-5", 10), Ranged::Part(2..6));
        assert_eq!(byte_range("bytes=2-", 10), Ranged::Part(2..10));
        assert_eq!(byte_range("bytes=-3", 10), Ranged::Part(7..10));
        assert_eq!(byte_range("bytes=-30", 10), Ranged::Part(0..10), "a suffix longer than the file is all of it");
        assert_eq!(byte_range("bytes=5-100", 10), Ranged::Part(5..10), "an end past the file is cut to it");
        assert_eq!(byte_range("bytes=9-9", 10), Ranged::Part(9..10));
        assert_eq!(byte_range("bytes=10-", 10), Ranged::Unsatisfiable);
        assert_eq!(byte_range("bytes=10-20", 10), Ranged::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 10), Ranged::Unsatisfiable);
        assert_eq!(byte_range("bytes=-5", 0), Ranged::Unsatisfiable);
        for whole in ["bytes=5-2", "bytes=0-1,4-5", "items=0-1", "bytes=a-b", "bytes=", "bytes=-", "nonsense"] {
            assert_eq!(byte_range(whole, 10), Ranged::Whole, "{whole}");
        }
    }

    #[test]
    fn file_names_reach_the_header_safely() {
        assert_eq!(
            content_disposition("attachment", "report \"final\".pdf"),
            "attachment; filename=\"report _final_.pdf\"; filename*=UTF-8''report%20%22final%22.pdf"
        );
        let header = content_disposition("inline", "café ☕.png");
        assert_eq!(header, "inline; filename=\"caf_ _.png\"; filename*=UTF-8''caf%C3%A9%20%E2%98%95.png");
        assert!(HeaderValue::try_from(header).is_ok());
    }
}
