//! `backup::backup` and `backup::restore`: a directory with the dump and every blob its records
//! refer to (files, thumbnails, avatars), through the public traits, between in-memory stores.
//! A repeated backup copies nothing it has; a blob the source lacks is listed, not fatal; a
//! first backup cut short can be run again in its directory; a restore refuses a damaged blob or
//! a non-empty store before it writes anything.

use bytes::Bytes;
use kanect_core::backend::{AdminStore, AttachmentStore, UserStore};
use kanect_core::blob::{collect, once, BlobKey, BlobStore, MemoryBlobStore};
use kanect_core::testing::{attachment, user};
use kanect_core::{Attachment, AttachmentId, ImageMeta, MemoryStore};
use kanect_store::backup::{self, BackupDir, BackupError};
use sha2::{Digest, Sha256};
use std::path::Path;

/// An attachment record of `bytes`, its checksum right.
fn record_of(bytes: &[u8], owner: kanect_core::UserId) -> Attachment {
    let mut record = attachment(owner, bytes.len() as u64);
    record.meta.sha256 = Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect();
    record
}

/// The source: alice with an avatar, an image (file and thumbnail), a file, and a file whose
/// bytes are not in the blob store.
struct Source {
    store: MemoryStore,
    blobs: MemoryBlobStore,
    image: Attachment,
    file: Attachment,
    lost: Attachment,
    avatar: AttachmentId,
}

async fn source() -> Source {
    let (store, blobs) = (MemoryStore::new(), MemoryBlobStore::new());
    let mut alice = user("alice");
    let avatar = AttachmentId::new();
    alice.avatar = Some(avatar);
    store.insert_user(&alice, "$argon2id$x").await.unwrap();
    let mut image = record_of(b"an image's bytes", alice.id);
    image.meta.image = Some(ImageMeta { width: 2, height: 2, thumbnail_width: 1, thumbnail_height: 1 });
    image.thumbnail_size = 5;
    let file = record_of(&vec![7; 200_000], alice.id);
    let lost = record_of(b"gone", alice.id);
    for record in [&image, &file, &lost] {
        store.insert_attachment(record).await.unwrap();
    }
    let put = |key, bytes: Vec<u8>| {
        let blobs = &blobs;
        async move { blobs.put(key, once(Bytes::from(bytes))).await.unwrap() }
    };
    put(BlobKey::file(image.meta.id), b"an image's bytes".to_vec()).await;
    put(BlobKey::thumbnail(image.meta.id), b"thumb".to_vec()).await;
    put(BlobKey::file(file.meta.id), vec![7; 200_000]).await;
    put(BlobKey::avatar(avatar), b"a face".to_vec()).await;
    Source { store, blobs, image, file, lost, avatar }
}

async fn bytes_of(blobs: &dyn BlobStore, key: BlobKey) -> Option<Vec<u8>> {
    Some(collect(blobs.get(key, None).await.unwrap()?.bytes).await.unwrap())
}

fn blob_path(dir: &Path, key: BlobKey) -> std::path::PathBuf {
    dir.join("blobs").join(format!("{:02x}", key.attachment.to_bytes()[15])).join(key.to_string())
}

#[tokio::test]
async fn a_backup_restores_every_blob_and_a_repeated_one_copies_only_what_is_new() {
    let source = source().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup");
    let (counts, copied) = backup::backup(&source.store, &source.blobs, &path).await.unwrap();
    assert_eq!((counts.users, counts.attachments), (1, 3));
    assert_eq!((copied.copied, copied.present, copied.missing), (4, 0, 1), "{copied}");
    assert_eq!(copied.bytes, 16 + 5 + 200_000 + 6);
    let listed = std::fs::read_to_string(path.join(backup::MISSING_FILE)).unwrap();
    assert_eq!(listed, format!("{}\n", source.lost.meta.id));

    let (_, again) = backup::backup(&source.store, &source.blobs, &path).await.unwrap();
    assert_eq!((again.copied, again.present, again.missing), (0, 4, 1), "{again}");

    let (store, blobs) = (MemoryStore::new(), MemoryBlobStore::new());
    let (restored, copied) = backup::restore(&store, &blobs, &path).await.unwrap();
    assert_eq!(restored, counts);
    assert_eq!((copied.copied, copied.missing), (4, 1));
    let keys = [
        BlobKey::file(source.image.meta.id),
        BlobKey::thumbnail(source.image.meta.id),
        BlobKey::file(source.file.meta.id),
        BlobKey::avatar(source.avatar),
    ];
    for key in keys {
        assert_eq!(bytes_of(&blobs, key).await, bytes_of(&source.blobs, key).await, "{key}");
    }
    assert_eq!(bytes_of(&blobs, BlobKey::file(source.lost.meta.id)).await, None);
}

#[tokio::test]
async fn a_first_backup_cut_short_is_resumed_and_a_directory_of_other_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // What a first backup leaves when it fails before its dump is in place.
    let started = BackupDir::prepare(dir.path().join("b")).unwrap();
    std::fs::write(started.pending_dump(), "partial").unwrap();
    drop(started);
    let source = source().await;
    backup::backup(&source.store, &source.blobs, dir.path().join("b")).await.unwrap();

    std::fs::write(dir.path().join("b").join("notes.txt"), "mine").unwrap();
    let error = BackupDir::prepare(dir.path().join("b")).unwrap_err();
    assert!(matches!(&error, BackupError::NotBackup(text) if text.contains("notes.txt")), "{error}");
    std::fs::write(dir.path().join("file"), "x").unwrap();
    assert!(matches!(BackupDir::prepare(dir.path().join("file")), Err(BackupError::NotBackup(_))));
    let restored = backup::restore(&MemoryStore::new(), &MemoryBlobStore::new(), dir.path()).await;
    assert!(matches!(restored, Err(BackupError::NotBackup(_))), "no dump.jsonl");
}

#[tokio::test]
async fn a_restore_checks_every_blob_and_the_store_before_writing_anything() {
    let source = source().await;
    let dir = tempfile::tempdir().unwrap();
    backup::backup(&source.store, &source.blobs, dir.path()).await.unwrap();
    let (store, blobs) = (MemoryStore::new(), MemoryBlobStore::new());

    let thumbnail = blob_path(dir.path(), BlobKey::thumbnail(source.image.meta.id));
    std::fs::write(&thumbnail, b"thumbs").unwrap();
    let error = backup::restore(&store, &blobs, dir.path()).await.unwrap_err();
    assert!(matches!(&error, BackupError::Blob { reason, .. } if reason.contains("6 bytes")), "{error}");
    std::fs::write(&thumbnail, b"thumb").unwrap();
    let file = blob_path(dir.path(), BlobKey::file(source.image.meta.id));
    std::fs::write(&file, b"an image's bytez").unwrap();
    let error = backup::restore(&store, &blobs, dir.path()).await.unwrap_err();
    assert!(matches!(&error, BackupError::Blob { reason, .. } if reason.contains("SHA-256")), "{error}");
    assert_eq!(store.stats().await.unwrap().users, 0, "nothing imported");
    assert_eq!(bytes_of(&blobs, BlobKey::avatar(source.avatar)).await, None, "no blob copied");
    std::fs::write(&file, b"an image's bytes").unwrap();
    // A dump of another version: refused as such (it was "line 2: not a dump record").
    let dump = dir.path().join("dump.jsonl");
    let text = std::fs::read_to_string(&dump).unwrap();
    std::fs::write(&dump, text.replacen("\"version\":1", "\"version\":99", 1)).unwrap();
    let error = backup::restore(&store, &blobs, dir.path()).await.unwrap_err();
    assert!(matches!(&error, BackupError::Unsupported(why) if why.contains("version 99")), "{error}");
    std::fs::write(&dump, text).unwrap();

    // A store with data in it: refused, and its blob store untouched.
    let error = backup::restore(&source.store, &blobs, dir.path()).await.unwrap_err();
    assert!(matches!(error, BackupError::NotEmpty(_)), "{error}");
    assert_eq!(bytes_of(&blobs, BlobKey::avatar(source.avatar)).await, None);
    backup::restore(&store, &blobs, dir.path()).await.unwrap();
}

/// A running server's backup can meet an upload under way: its record dumped before it had a
/// size and a digest, its bytes stored before the blobs are copied. And a blob may be another
/// size than the record dumped. Neither may make a backup that its restore refuses (before the
/// fix: "N bytes in the backup, its record says 0").
#[tokio::test]
async fn an_upload_under_way_or_a_blob_changed_since_the_dump_still_restores() {
    let Source { store, blobs, .. } = source().await;
    let owner = user("bob");
    store.insert_user(&owner, "$argon2id$x").await.unwrap();
    let mut uploading = attachment(owner.id, 0);
    uploading.meta.sha256 = String::new();
    store.insert_attachment(&uploading).await.unwrap();
    let resized = record_of(b"the bytes the record was made for", owner.id);
    store.insert_attachment(&resized).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup_dir = BackupDir::prepare(dir.path().join("b")).unwrap();
    backup_dir.export(&store).await.unwrap();
    // After the dump: the upload's bytes land, and another blob is not what its record says.
    blobs.put(BlobKey::file(uploading.meta.id), once(Bytes::from_static(b"late bytes"))).await.unwrap();
    blobs.put(BlobKey::file(resized.meta.id), once(Bytes::from_static(b"other"))).await.unwrap();
    let counts = backup_dir.save_blobs(&blobs).await.unwrap();
    assert_eq!(counts.missing, 2, "{counts:?}"); // `lost`, and the changed one
    assert!(!blob_path(&dir.path().join("b"), BlobKey::file(uploading.meta.id)).exists());
    let listed = std::fs::read_to_string(dir.path().join("b").join(backup::MISSING_FILE)).unwrap();
    assert!(listed.contains(&BlobKey::file(resized.meta.id).to_string()), "{listed}");

    let (restored, restored_blobs) = (MemoryStore::new(), MemoryBlobStore::new());
    backup::restore(&restored, &restored_blobs, dir.path().join("b")).await.unwrap();
    assert!(restored.attachment(uploading.meta.id).await.unwrap().is_some());
    assert_eq!(bytes_of(&restored_blobs, BlobKey::file(uploading.meta.id)).await, None);
}
