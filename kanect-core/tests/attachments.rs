//! Attachments through the engine: upload, send, read, who may read, limits, deletion and the
//! sweep, on the memory store and memory blob store.

mod support;

use bytes::Bytes;
use kanect_core::blob::{ByteStream, MemoryBlobStore};
use kanect_core::testing::blob::{body, failing_body, pattern};
use kanect_core::{AttachmentLimits, AttachmentPart, Caller, Chat, ChatConfig, MemoryStore, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use support::{code, next_message, unlimited_config, user};

struct Setup {
    chat: Chat,
    blobs: Arc<MemoryBlobStore>,
    store: Arc<MemoryStore>,
}

async fn setup(limits: AttachmentLimits) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let blobs = Arc::new(MemoryBlobStore::new());
    let config = ChatConfig { attachments: limits, ..unlimited_config() };
    let chat = Chat::builder_shared(store.clone()).blobs_shared(blobs.clone()).config(config).build().await.unwrap();
    Setup { chat, blobs, store }
}

async fn read_all(
    chat: &Chat,
    caller: &Caller,
    id: kanect_core::AttachmentId,
    part: AttachmentPart,
) -> kanect_core::Result<Vec<u8>> {
    let read = chat.read_attachment(caller, id, part, None).await?;
    Ok(kanect_core::blob::collect(read.blob.bytes).await.unwrap())
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn an_upload_is_sent_read_by_members_and_no_one_else() {
    let Setup { chat, .. } = setup(AttachmentLimits::default()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let (_, carol) = user(&chat, "carol").await;
    let text = b"minutes of the meeting\n".repeat(1000);
    let meta =
        chat.upload(&alice, "../../notes/minutes.txt", Some(text.len() as u64), body(&text, 4096)).await.unwrap();
    assert_eq!(meta.name, "minutes.txt", "the name is sanitised");
    assert_eq!(meta.size, text.len() as u64);
    assert_eq!(meta.content_type, "text/plain; charset=utf-8", "sniffed, not claimed");
    assert_eq!(meta.sha256, sha256_hex(&text));
    assert!(meta.image.is_none());

    // Unsent: its uploader reads it, nobody else.
    assert_eq!(read_all(&chat, &alice, meta.id, AttachmentPart::File).await.unwrap(), text);
    assert_eq!(code(chat.attachment(&bob, meta.id).await), "attachment_not_found");

    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut bobs_phone = chat.subscribe(&bob).await.unwrap();
    let sent = chat.send_with_attachments(&alice, direct.id, "c1", "", &[meta.id]).await.unwrap();
    assert_eq!(sent.attachments, std::slice::from_ref(&meta));
    assert_eq!(
        next_message(&mut bobs_phone).await.attachments,
        std::slice::from_ref(&meta),
        "the event carries the metadata"
    );
    assert_eq!(read_all(&chat, &bob, meta.id, AttachmentPart::File).await.unwrap(), text);
    let part = chat.read_attachment(&bob, meta.id, AttachmentPart::File, Some(10..20)).await.unwrap();
    assert_eq!(part.blob.size, text.len() as u64);
    assert!(!part.inline, "text is a download");
    assert_eq!(kanect_core::blob::collect(part.blob.bytes).await.unwrap(), text[10..20]);
    let past = chat.read_attachment(&bob, meta.id, AttachmentPart::File, Some(0..text.len() as u64 + 1)).await;
    assert_eq!(code(past), "out_of_range");
    assert_eq!(code(chat.attachment(&carol, meta.id).await), "attachment_not_found", "not a member");
    assert_eq!(code(read_all(&chat, &bob, meta.id, AttachmentPart::Thumbnail).await), "attachment_not_found");

    // A resend claims it again for the same message, and returns the original.
    let again = chat.send_with_attachments(&alice, direct.id, "c1", "", &[meta.id]).await.unwrap();
    assert_eq!((again.id, again.seq), (sent.id, sent.seq));
}

#[tokio::test]
async fn an_image_gets_a_thumbnail_and_a_fake_one_is_a_plain_file() {
    let Setup { chat, .. } = setup(AttachmentLimits::default()).await;
    let (_, alice) = user(&chat, "alice").await;
    let photo = png(1000, 500);
    let meta = chat.upload(&alice, "photo.png", None, body(&photo, 8192)).await.unwrap();
    assert_eq!(meta.content_type, "image/png");
    let image = meta.image.expect("an image");
    assert_eq!((image.width, image.height, image.thumbnail_width, image.thumbnail_height), (1000, 500, 320, 160));
    let thumbnail = chat.read_attachment(&alice, meta.id, AttachmentPart::Thumbnail, None).await.unwrap();
    assert!(thumbnail.inline);
    assert!(thumbnail.content_type == "image/jpeg" || thumbnail.content_type == "image/png");
    let bytes = kanect_core::blob::collect(thumbnail.blob.bytes).await.unwrap();
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 320);

    let mut fake = photo[..64].to_vec();
    fake.extend_from_slice(&pattern(5000, 9));
    let meta = chat.upload(&alice, "not really.png", None, body(&fake, 1000)).await.unwrap();
    assert_eq!(meta.content_type, "application/octet-stream", "does not decode: a plain file");
    assert!(meta.image.is_none());
    assert!(!chat.read_attachment(&alice, meta.id, AttachmentPart::File, None).await.unwrap().inline);

    // A "decompression bomb": a PNG header claiming 50,000 × 50,000 pixels, in a few bytes.
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let meta = chat.upload(&alice, "bomb.png", None, body(&bomb, 1000)).await.unwrap();
    assert!(meta.image.is_none() && meta.content_type == "application/octet-stream");
}

/// CRC-32 (IEEE) of a PNG chunk's type and data.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn sizes_and_quotas_are_enforced_at_the_limit_and_past_it() {
    let limits = AttachmentLimits { max_file_bytes: 1000, quota_bytes: 1500, ..Default::default() };
    let Setup { chat, blobs, store } = setup(limits).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let bytes = pattern(1001, 1);
    assert_eq!(code(chat.upload(&alice, "a", Some(1001), body(&bytes, 100)).await), "attachment_too_large");
    assert_eq!(code(chat.upload(&alice, "a", None, body(&bytes, 100)).await), "attachment_too_large");
    assert_eq!(
        code(chat.upload(&alice, "a", Some(10), body(&bytes, 100)).await),
        "attachment_too_large",
        "a body longer than announced"
    );
    assert!(blobs.is_empty(), "nothing kept of a refused upload");
    use kanect_core::backend::AttachmentStore;
    assert!(store.attachments_after(None, 10).await.unwrap().is_empty());

    chat.upload(&alice, "a", None, body(&bytes[..1000], 100)).await.unwrap();
    assert_eq!(code(chat.upload(&alice, "b", Some(501), body(&bytes[..501], 100)).await), "quota_exceeded");
    assert_eq!(code(chat.upload(&alice, "b", None, body(&bytes[..501], 100)).await), "quota_exceeded");
    chat.upload(&alice, "b", None, body(&bytes[..500], 100)).await.unwrap();
    assert_eq!(store.attachment_usage(alice_user.id).await.unwrap(), 1500, "exactly at the quota");
    assert_eq!(code(chat.upload(&alice, "c", None, body(&bytes[..1], 1)).await), "quota_exceeded");
    assert_eq!(blobs.len(), 2);
}

#[tokio::test]
async fn empty_and_interrupted_uploads_keep_nothing() {
    let Setup { chat, blobs, store } = setup(AttachmentLimits::default()).await;
    let (_, alice) = user(&chat, "alice").await;
    assert_eq!(code(chat.upload(&alice, "empty", Some(0), body(&[], 1)).await), "empty");
    assert_eq!(code(chat.upload(&alice, "cut", None, failing_body(&pattern(300, 2))).await), "incomplete");
    assert!(blobs.is_empty());
    use kanect_core::backend::AttachmentStore;
    assert!(store.attachments_after(None, 10).await.unwrap().is_empty());
}

/// A body still arriving, as from an uploader still sending, until `cut` fires: then it fails,
/// as when the uploader goes away.
fn sending_until(cut: tokio::sync::oneshot::Receiver<()>) -> ByteStream {
    struct Sending(tokio::sync::oneshot::Receiver<()>);
    impl futures_core::Stream for Sending {
        type Item = std::io::Result<Bytes>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::pin::Pin::new(&mut self.0)
                .poll(cx)
                .map(|_| Some(Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))))
        }
    }
    use std::future::Future;
    Box::pin(Sending(cut))
}

#[tokio::test]
async fn uploads_under_way_per_account_are_capped() {
    let Setup { chat, blobs, .. } = setup(AttachmentLimits { uploads_in_flight: 1, ..Default::default() }).await;
    let (_, alice) = user(&chat, "alice").await;
    let (_, bob) = user(&chat, "bob").await;
    let (cut, cut_off) = tokio::sync::oneshot::channel();
    let first = tokio::spawn({
        let (chat, alice) = (chat.clone(), alice.clone());
        async move { chat.upload(&alice, "slow", None, sending_until(cut_off)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(code(chat.upload(&alice, "second", None, body(b"x", 1)).await), "too_many_uploads");
    chat.upload(&bob, "another account", None, body(b"x", 1)).await.unwrap();
    cut.send(()).unwrap();
    assert_eq!(code(first.await.unwrap()), "incomplete");
    chat.upload(&alice, "second", None, body(b"x", 1)).await.unwrap();
    assert_eq!(blobs.len(), 2, "nothing kept of the upload cut off");
}

#[tokio::test]
async fn sends_check_every_attachment_before_storing_anything() {
    let Setup { chat, .. } = setup(AttachmentLimits::default()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mine = chat.upload(&alice, "mine", None, body(b"mine", 2)).await.unwrap();
    let theirs = chat.upload(&bob, "theirs", None, body(b"theirs", 2)).await.unwrap();

    let refused = [
        (vec![mine.id, theirs.id], "attachment_not_found"),
        (vec![mine.id, mine.id], "repeated"),
        (vec![mine.id; 11], "too_long"),
        (vec![kanect_core::AttachmentId::new()], "attachment_not_found"),
    ];
    for (ids, expected) in refused {
        assert_eq!(code(chat.send_with_attachments(&alice, direct.id, "x", "", &ids).await), expected, "{ids:?}");
    }
    assert_eq!(code(chat.send_with_attachments(&alice, direct.id, "x", " ", &[]).await), "empty");
    assert_eq!(chat.history(&alice, direct.id, kanect_core::HistoryPage::Latest, 10).await.unwrap().len(), 0);

    chat.send_with_attachments(&alice, direct.id, "first", "", &[mine.id]).await.unwrap();
    assert_eq!(
        code(chat.send_with_attachments(&alice, direct.id, "second", "again", &[mine.id]).await),
        "attachment_in_use"
    );
}

#[tokio::test]
async fn deleting_a_message_deletes_its_files() {
    let Setup { chat, blobs, store } = setup(AttachmentLimits::default()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let photo = chat.upload(&alice, "p.png", None, body(&png(400, 400), 4096)).await.unwrap();
    let file = chat.upload(&alice, "f.bin", None, body(&pattern(100, 3), 7)).await.unwrap();
    assert_eq!(blobs.len(), 3, "two files and a thumbnail");
    let sent = chat.send_with_attachments(&alice, direct.id, "c", "look", &[photo.id, file.id]).await.unwrap();
    let deleted = chat.delete(&alice, sent.id).await.unwrap();
    assert!(deleted.attachments.is_empty());
    assert!(blobs.is_empty(), "bytes gone");
    use kanect_core::backend::{AttachmentStore, MessageStore};
    assert!(store.attachments_after(None, 10).await.unwrap().is_empty(), "records gone");
    assert!(store.message(sent.id).await.unwrap().unwrap().attachments.is_empty());
    assert_eq!(code(chat.attachment(&bob, photo.id).await), "attachment_not_found");
}

#[tokio::test]
async fn a_member_who_leaves_reads_no_more() {
    let Setup { chat, .. } = setup(AttachmentLimits::default()).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let group = chat.create_group(&alice, "team", &[bob_user.id]).await.unwrap();
    let file = chat.upload(&alice, "f", None, body(b"plans", 2)).await.unwrap();
    chat.send_with_attachments(&alice, group.id, "c", "", &[file.id]).await.unwrap();
    chat.attachment(&bob, file.id).await.unwrap();
    chat.leave(&bob, group.id).await.unwrap();
    assert_eq!(code(chat.attachment(&bob, file.id).await), "attachment_not_found");
}

#[tokio::test]
async fn the_sweep_deletes_unsent_uploads_once_expired_and_keeps_sent_ones() {
    let limits = AttachmentLimits { unsent_expiry: Duration::from_secs(24 * 3600), ..Default::default() };
    let Setup { chat, blobs, store } = setup(limits).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let unsent = chat.upload(&alice, "draft", None, body(b"draft", 2)).await.unwrap();
    let sent = chat.upload(&alice, "sent", None, body(b"sent", 2)).await.unwrap();
    chat.send_with_attachments(&alice, direct.id, "c", "", &[sent.id]).await.unwrap();
    // A claim whose message was never stored (a crash between the two).
    let orphan = chat.upload(&alice, "orphan", None, body(b"orphan", 2)).await.unwrap();
    use kanect_core::backend::AttachmentStore;
    let at = kanect_core::MessageRef { conversation: direct.id, message: kanect_core::MessageId::new() };
    store.claim_attachments(&[orphan.id], alice.user(), at, Timestamp(0)).await.unwrap().unwrap();

    let now = Timestamp::now();
    assert_eq!(chat.sweep_attachments(now).await.unwrap(), 0, "younger than the expiry");
    // Expired, but within the hour's grace in which a send that claimed an upload just before
    // the expiry is still storing its message.
    assert_eq!(chat.sweep_attachments(now.plus(Duration::from_secs(24 * 3600 + 1800))).await.unwrap(), 0);
    assert_eq!(chat.sweep_attachments(now.plus(Duration::from_secs(25 * 3600 + 60))).await.unwrap(), 2);
    assert_eq!(blobs.len(), 1);
    assert!(store.attachment(unsent.id).await.unwrap().is_none());
    assert!(store.attachment(orphan.id).await.unwrap().is_none());
    assert!(store.attachment(sent.id).await.unwrap().is_some());
}

/// An upload past its expiry can no longer be sent (the sweep may be deleting it at that very
/// moment: a message must not take a file whose bytes are going); one within it can.
#[tokio::test]
async fn an_expired_upload_cannot_be_sent() {
    let limits = AttachmentLimits { unsent_expiry: Duration::from_secs(1), ..Default::default() };
    let Setup { chat, .. } = setup(limits).await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let stale = chat.upload(&alice, "stale", None, body(b"stale", 2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = chat.upload(&alice, "fresh", None, body(b"fresh", 2)).await.unwrap();
    assert_eq!(
        code(chat.send_with_attachments(&alice, direct.id, "c", "", &[fresh.id, stale.id]).await),
        "attachment_not_found"
    );
    let sent = chat.send_with_attachments(&alice, direct.id, "d", "", &[fresh.id]).await.unwrap();
    assert_eq!(sent.attachments.len(), 1);
}

#[tokio::test]
async fn without_a_blob_store_attachments_are_off() {
    let chat = Chat::builder(MemoryStore::new()).config(unlimited_config()).build().await.unwrap();
    let (bob_user, _) = user(&chat, "bob").await;
    let (_, alice) = user(&chat, "alice").await;
    assert!(!chat.attachments_enabled());
    assert_eq!(code(chat.upload(&alice, "f", None, body(b"x", 1)).await), "attachments_disabled");
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let id = kanect_core::AttachmentId::new();
    assert_eq!(code(chat.send_with_attachments(&alice, direct.id, "c", "", &[id]).await), "attachments_disabled");
    chat.send(&alice, direct.id, "d", "text still works").await.unwrap();
}

#[tokio::test]
async fn retention_deletes_expired_messages_files_too() {
    let store = Arc::new(MemoryStore::new());
    let blobs = Arc::new(MemoryBlobStore::new());
    let config = ChatConfig { message_retention: Some(Duration::from_secs(3600)), ..unlimited_config() };
    let chat = Chat::builder_shared(store).blobs_shared(blobs.clone()).config(config).build().await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let file = chat.upload(&alice, "old.txt", None, body(b"old news", 3)).await.unwrap();
    chat.send_with_attachments(&alice, direct.id, "c", "", &[file.id]).await.unwrap();
    assert_eq!(chat.expire_messages(Timestamp::now().plus(Duration::from_secs(7200))).await.unwrap(), 1);
    assert!(blobs.is_empty(), "the expired message's file is gone");
    assert_eq!(code(chat.attachment(&bob, file.id).await), "attachment_not_found");
}

#[tokio::test]
async fn uploads_count_against_the_send_rate() {
    let rate_limits =
        kanect_core::RateLimits { sends: kanect_core::Rate::new(2, Duration::from_secs(3600)), ..Default::default() };
    let store = Arc::new(MemoryStore::new());
    let config = ChatConfig { rate_limits, ..support::fast_config() };
    let chat = Chat::builder_shared(store).blobs(MemoryBlobStore::new()).config(config).build().await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    chat.upload(&alice, "1", None, body(b"1", 1)).await.unwrap();
    chat.upload(&alice, "2", None, body(b"2", 1)).await.unwrap();
    assert_eq!(code(chat.upload(&alice, "3", None, body(b"3", 1)).await), "rate_limited");
}

/// A body that notes when it has ended.
struct Noting(ByteStream, Arc<std::sync::atomic::AtomicBool>);

impl futures_core::Stream for Noting {
    type Item = std::io::Result<Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let next = self.0.as_mut().poll_next(cx);
        if let std::task::Poll::Ready(None) = next {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        next
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_caller_goes_away_after_the_last_byte_completes_and_counts() {
    let limits = AttachmentLimits { quota_bytes: 4 * 1024 * 1024, ..Default::default() };
    let Setup { chat, blobs, store } = setup(limits).await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let photo = png(1500, 1000);
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let body: ByteStream = Box::pin(Noting(body(&photo, 64 * 1024), ended.clone()));
    let mut upload = Box::pin(chat.upload(&alice, "photo.png", None, body));
    // Driven until its body has all been read, then dropped: an HTTP client that hung up.
    tokio::select! {
        result = &mut upload => panic!("finished before its caller went away: {result:?}"),
        () = async { while !ended.load(std::sync::atomic::Ordering::SeqCst) { tokio::task::yield_now().await } } => {}
    }
    drop(upload);
    use kanect_core::backend::AttachmentStore;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let records = store.attachments_after(None, 10).await.unwrap();
        if let [record] = records.as_slice() {
            if record.meta.size > 0 {
                break record.clone();
            }
        }
        assert!(std::time::Instant::now() < deadline, "the upload never completed: {records:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(record.meta.image.is_some(), "thumbnailed as if its caller had stayed");
    assert_eq!(blobs.len(), 2, "the file and its thumbnail");
    assert_eq!(store.attachment_usage(alice_user.id).await.unwrap(), record.stored_bytes(), "the quota counts it");
}
