//! Backups and migration (`kanect_store::backup`): one varied dataset moves memory → sled →
//! fjall → PostgreSQL (with `KANECT_TEST_PG`) → memory, and every store dumps it byte for byte as the
//! first did; a damaged or foreign dump, or a non-empty target, is refused with a clear error.

// The round trip goes through both embedded engines.
#![cfg(all(feature = "sled", feature = "fjall"))]

use kanect_core::backend::{
    AccountTokenStore, AdminStore, Appended, AttachmentStore, ConversationStore, InviteStore, MessageStore,
    NotificationStore, SecretStore, Session, SessionStore, Store, UserStore,
};
use kanect_core::testing::{attachment, group, new_message, user};
use kanect_core::{
    AccountToken, AuditEntry, AuditId, Conversation, ConversationId, ConversationKind, ConversationNotifications,
    DoNotDisturb, ImageMeta, Invite, InviteId, MemoryStore, MessageRef, NotificationLevel, NotificationSettings,
    PushSubscription, ReceiptKind, Role, Seq, Timestamp, TokenHash, TokenPurpose,
};
use kanect_store::backup::{self, BackupError, Counts};
use kanect_store::SledStore;

/// More than the export's page, so that every kind of record is paged through.
const MANY: usize = 205;

/// A store with some of everything: an admin seen lately (with a status and an avatar), a
/// disabled user, a verified address with digests off, sessions, account tokens of every
/// purpose, a direct
/// and a group conversation with edited and deleted messages, messages with attachments (one
/// deleted, which dropped them), attachment records claimed and not, receipts, an audit log,
/// invites (some used, one used up); and more than a page of users, sessions, conversations,
/// one conversation's messages, attachment records, audit entries and invites.
async fn varied_store() -> MemoryStore {
    let store = MemoryStore::new();
    let mut alice = user("Alice");
    alice.role = Role::Admin;
    alice.display_name = Some("Alice \"A.\" Ängström".into());
    alice.last_seen = Some(Timestamp(1_700_000_123_456));
    alice.status = Some("🏖️ away \"till\" Monday".into());
    alice.avatar = Some(kanect_core::AttachmentId::new());
    let mut bob = user("bob");
    bob.disabled = true;
    bob.email = None;
    let mut carol = user("carol");
    carol.email_verified = true;
    carol.digests_off = true;
    carol.digested_at = Some(Timestamp(1_700_000_222_000));
    for person in [&alice, &bob, &carol] {
        let hash = format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${}", person.username);
        store.insert_user(person, &hash).await.unwrap();
    }
    let mut many = Vec::new();
    for i in 0..MANY {
        let user = user(&format!("user{i:03}"));
        store.insert_user(&user, "$argon2id$x").await.unwrap();
        many.push(user.id);
    }
    for i in 0..MANY {
        let mut hash = [i as u8; 32];
        hash[31] = 7;
        let session = Session {
            token_hash: TokenHash(hash),
            user: if i % 2 == 0 { alice.id } else { carol.id },
            created_at: Timestamp(1_700_000_000_000 + i as u64),
            expires_at: Timestamp(1_800_000_000_000),
            last_used: (i % 3 != 0).then(|| Timestamp(1_700_000_200_000 + i as u64)),
            user_agent: (i % 2 == 0).then(|| format!("Mozilla/5.0 \"{i}\" ✓")),
        };
        store.insert_session(&session).await.unwrap();
    }
    for i in 0..MANY {
        let mut hash = [i as u8; 32];
        hash[31] = 9;
        let token = AccountToken {
            token_hash: TokenHash(hash),
            purpose: [TokenPurpose::Verify, TokenPurpose::Reset, TokenPurpose::Unsubscribe][i % 3],
            // A user keeps one token per purpose: one user each, so that every token stays.
            user: many[i],
            address: format!("someone{i}@example.com"),
            created_at: Timestamp(1_700_000_000_000 + i as u64),
            expires_at: Timestamp(1_800_000_000_000),
        };
        assert!(store.put_account_token(&token).await.unwrap());
    }

    let mut members = vec![alice.id, bob.id];
    members.sort();
    let direct = Conversation {
        id: ConversationId::direct(alice.id, bob.id),
        kind: ConversationKind::Direct,
        name: None,
        owner: None,
        members,
        created_at: Timestamp(1_700_000_000_500),
    };
    assert!(store.insert_conversation(&direct).await.unwrap());
    let team = group(&[alice.id, bob.id, carol.id]);
    assert!(store.insert_conversation(&team).await.unwrap());
    for _ in 0..MANY {
        assert!(store.insert_conversation(&group(&[carol.id])).await.unwrap());
    }

    for i in 0..450u64 {
        let sender = [alice.id, bob.id, carol.id][i as usize % 3];
        let mut message = new_message(team.id, sender, &format!("c{i}"), &format!("message {i}: \"quoted\"\n✓"));
        message.sent_at = Timestamp(1_700_000_001_000 + i);
        assert!(matches!(store.append_message(message).await.unwrap(), Appended::Created(_)));
    }
    for i in 0..3 {
        store.append_message(new_message(direct.id, alice.id, &format!("d{i}"), "hello")).await.unwrap();
    }

    // Uploads, more than a page of them: unclaimed, but for those two messages claim below.
    let mut uploads = Vec::new();
    for i in 0..MANY as u64 {
        let mut upload = attachment(if i % 2 == 0 { alice.id } else { carol.id }, i * 1_000);
        upload.meta.name = format!("Ä file \"{i}\".txt");
        upload.uploaded_at = Timestamp(1_700_000_050_000 + i);
        if i % 7 == 0 {
            upload.meta.content_type = "image/jpeg".into();
            upload.meta.image =
                Some(ImageMeta { width: 4032, height: 3024, thumbnail_width: 320, thumbnail_height: 240 });
            upload.thumbnail_size = 12_345;
        }
        store.insert_attachment(&upload).await.unwrap();
        uploads.push(upload);
    }
    for (client_id, sent) in
        [("with-files", [&uploads[0], &uploads[14]]), ("files-then-deleted", [&uploads[2], &uploads[4]])]
    {
        let mut new = new_message(team.id, alice.id, client_id, "see attached");
        let at = MessageRef { conversation: team.id, message: new.id() };
        let ids: Vec<_> = sent.iter().map(|upload| upload.meta.id).collect();
        let claimed = store.claim_attachments(&ids, alice.id, at, kanect_core::Timestamp(0)).await.unwrap().unwrap();
        new.attachments = claimed.into_iter().map(|record| record.meta).collect();
        let stored = store.append_message(new).await.unwrap().message().clone();
        assert_eq!(stored.attachments.len(), 2);
        if client_id == "files-then-deleted" {
            let deleted =
                kanect_core::Message { body: String::new(), deleted: true, attachments: Vec::new(), ..stored };
            assert!(store.replace_message(&deleted).await.unwrap());
        }
    }
    let history = store.history(team.id, kanect_core::HistoryPage::After(Seq(4)), 3).await.unwrap();
    let mut edited = history[0].clone();
    edited.body = "edited".into();
    edited.edited_at = Some(Timestamp(1_700_000_009_000));
    assert!(store.replace_message(&edited).await.unwrap());
    let mut deleted = history[2].clone();
    deleted.body = String::new();
    deleted.deleted = true;
    assert!(store.replace_message(&deleted).await.unwrap());

    store.advance_receipt(team.id, bob.id, ReceiptKind::Read, Seq(100)).await.unwrap();
    store.advance_receipt(team.id, bob.id, ReceiptKind::Delivered, Seq(120)).await.unwrap();
    store.advance_receipt(team.id, carol.id, ReceiptKind::Delivered, Seq(300)).await.unwrap();
    store.advance_receipt(direct.id, bob.id, ReceiptKind::Read, Seq(3)).await.unwrap();

    for i in 0..MANY as u64 {
        let entry = AuditEntry {
            id: AuditId::new(),
            at: Timestamp(1_700_000_100_000 + i),
            actor: alice.id,
            action: "user.disable".into(),
            target: bob.id.to_string(),
            detail: (i % 2 == 0).then(|| format!("because {i}")),
        };
        store.append_audit(&entry).await.unwrap();
    }
    for i in 0..MANY as u32 {
        let mut hash = [(i % 251) as u8; 32];
        hash[0] = (i / 251) as u8;
        let invite = Invite {
            id: InviteId::new(),
            token_hash: TokenHash(hash),
            created_by: if i % 3 == 0 { alice.id } else { carol.id },
            created_at: Timestamp(1_700_000_200_000 + u64::from(i)),
            expires_at: Timestamp(1_800_000_000_000),
            uses: 1 + i % 5,
            uses_left: (1 + i % 5) - (i % 2).min(1 + i % 5),
        };
        store.insert_invite(&invite).await.unwrap();
    }

    // Notification settings of two users, three push subscriptions, the VAPID secret.
    let mut settings =
        NotificationSettings { do_not_disturb: Some(DoNotDisturb { until: None }), ..Default::default() };
    let muted =
        ConversationNotifications { level: NotificationLevel::Muted, until: Some(Timestamp(1_800_000_000_000)) };
    settings.conversations.insert(team.id, muted);
    store.put_notification_settings(alice.id, &settings).await.unwrap();
    let mentions = ConversationNotifications { level: NotificationLevel::Mentions, until: None };
    let carols = NotificationSettings { conversations: [(team.id, mentions)].into(), ..Default::default() };
    store.put_notification_settings(carol.id, &carols).await.unwrap();
    for (owner, endpoint) in [
        (alice.id, "https://push.example/1"),
        (alice.id, "https://push.example/2"),
        (carol.id, "https://push.example/3"),
    ] {
        let subscription = PushSubscription {
            user: owner,
            session: TokenHash([3; 32]),
            endpoint: endpoint.into(),
            p256dh: "BP256".into(),
            auth: "auth".into(),
            created_at: Timestamp(1_700_000_200_000),
        };
        store.insert_push_subscription(&subscription).await.unwrap();
    }
    store.init_server_secret("vapid", &[1, 2, 3, 255]).await.unwrap();
    store
}

async fn dump<S: Store + ?Sized>(store: &S) -> (Vec<u8>, Counts) {
    let mut out = Vec::new();
    let counts = backup::export(store, &mut out).await.unwrap();
    (out, counts)
}

/// Imports `dump` into `store`, dumps it again and checks that the two are the same bytes.
async fn round_trip<S: Store + ?Sized>(store: &S, dump_bytes: &[u8], counts: Counts) {
    let imported = backup::import(store, dump_bytes).await.unwrap();
    assert_eq!(imported, counts);
    let (again, again_counts) = dump(store).await;
    assert_eq!(again_counts, counts);
    if again != dump_bytes {
        let first_difference = again
            .split(|&b| b == b'\n')
            .zip(dump_bytes.split(|&b| b == b'\n'))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(line, (a, b))| {
                format!("line {}:\n{}\n{}", line + 1, String::from_utf8_lossy(b), String::from_utf8_lossy(a))
            });
        panic!("the dumps differ: {first_difference:?}");
    }
}

#[tokio::test]
async fn a_dataset_moves_between_backends_unchanged() {
    let source = varied_store().await;
    let (original, counts) = dump(&source).await;
    assert_eq!(
        counts,
        Counts {
            users: 3 + MANY as u64,
            sessions: MANY as u64,
            account_tokens: MANY as u64,
            conversations: 2 + MANY as u64,
            messages: 455,
            receipts: 3,
            attachments: MANY as u64,
            audit: MANY as u64,
            invites: MANY as u64,
            notification_settings: 2,
            push_subscriptions: 3,
            secrets: 1,
        }
    );
    let text = String::from_utf8(original.clone()).unwrap();
    assert_eq!(text.lines().next(), Some(r#"{"format":"kanect-dump","version":1}"#));
    assert!(text.contains(r#""password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$Alice""#));
    let with_files = text.lines().find(|line| line.contains(r#""client_id":"with-files""#)).unwrap();
    assert!(with_files.contains(r#""thumbnail_width":320"#), "{with_files}");

    let sled = SledStore::temporary().unwrap();
    round_trip(&sled, &original, counts).await;
    let (from_sled, _) = dump(&sled).await;
    let from_fjall = through_fjall(&from_sled, counts).await;

    let back = MemoryStore::new();
    round_trip(&back, &from_fjall, counts).await;
    assert_eq!(back.stats().await.unwrap(), source.stats().await.unwrap());
}

/// Imports `dump` into a fresh FjallStore, checks it, and returns the store's own dump.
async fn through_fjall(dump_in: &[u8], counts: Counts) -> Vec<u8> {
    let fjall = kanect_store::FjallStore::temporary().unwrap();
    round_trip(&fjall, dump_in, counts).await;
    dump(&fjall).await.0
}

#[cfg(feature = "postgres")]
mod pg_support;

#[cfg(feature = "postgres")]
#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_dataset_moves_through_postgres_unchanged() {
    let source = varied_store().await;
    let (original, counts) = dump(&source).await;
    let sled = SledStore::temporary().unwrap();
    round_trip(&sled, &original, counts).await;
    let (from_sled, _) = dump(&sled).await;
    let from_fjall = through_fjall(&from_sled, counts).await;
    let pg = pg_support::fresh_store().await;
    round_trip(&pg, &from_fjall, counts).await;
    let (from_pg, _) = dump(&pg).await;
    let back = MemoryStore::new();
    round_trip(&back, &from_pg, counts).await;
}

/// A small valid dump, as lines.
async fn small_dump() -> Vec<String> {
    let store = MemoryStore::new();
    let alice = user("alice");
    store.insert_user(&alice, "h").await.unwrap();
    let team = group(&[alice.id]);
    store.insert_conversation(&team).await.unwrap();
    for i in 0..3 {
        store.append_message(new_message(team.id, alice.id, &format!("c{i}"), "hi")).await.unwrap();
    }
    let (bytes, _) = dump(&store).await;
    String::from_utf8(bytes).unwrap().lines().map(str::to_string).collect()
}

async fn import_lines(lines: &[String]) -> Result<Counts, BackupError> {
    let text = lines.iter().map(|line| format!("{line}\n")).collect::<String>();
    backup::import(&MemoryStore::new(), text.as_bytes()).await
}

fn line_error(result: Result<Counts, BackupError>) -> (u64, String) {
    match result {
        Err(BackupError::Line { line, reason }) => (line, reason),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_damaged_dump_fails_at_its_line() {
    let lines = small_dump().await;
    assert_eq!(lines.len(), 7, "header, user, conversation, 3 messages, end: {lines:?}");
    assert!(import_lines(&lines).await.is_ok());

    // cut off after a message: no end record
    let (line, reason) = line_error(import_lines(&lines[..5]).await);
    assert_eq!(line, 6);
    assert!(reason.contains("truncated"), "{reason}");

    // a line cut in the middle
    let mut cut = lines.clone();
    let half = cut[3].len() / 2;
    cut[3].truncate(half);
    let (line, reason) = line_error(import_lines(&cut).await);
    assert_eq!(line, 4);
    assert!(reason.contains("not a dump record"), "{reason}");

    // garbage, and a record of no known kind
    for bad in ["\u{fffd}\u{0}garbage", r#"{"kind":"spaceship"}"#] {
        let mut garbled = lines.clone();
        garbled[2] = bad.into();
        assert_eq!(line_error(import_lines(&garbled).await).0, 3);
    }

    // a message missing: the next one's seq does not follow
    let mut gap = lines.clone();
    gap.remove(4);
    let (line, reason) = line_error(import_lines(&gap).await);
    assert_eq!(line, 5);
    assert!(reason.contains("seq"), "{reason}");

    // a wrong count in the end record
    let mut miscounted = lines.clone();
    miscounted[6] = r#"{"kind":"end","records":9}"#.into();
    assert_eq!(line_error(import_lines(&miscounted).await).0, 7);
}

#[tokio::test]
async fn a_foreign_or_newer_dump_is_refused() {
    let mut lines = small_dump().await;
    lines[0] = r#"{"format":"kanect-dump","version":2}"#.into();
    let error = import_lines(&lines).await.unwrap_err();
    assert!(matches!(&error, BackupError::Unsupported(why) if why.contains("version 2")), "{error}");

    lines[0] = r#"{"format":"other","version":1}"#.into();
    assert!(matches!(import_lines(&lines).await, Err(BackupError::Unsupported(_))));

    lines[0] = "not json".into();
    assert!(matches!(import_lines(&lines).await, Err(BackupError::Unsupported(_))));
    assert!(matches!(import_lines(&[]).await, Err(BackupError::Unsupported(_))));
}

#[tokio::test]
async fn a_store_with_data_is_not_imported_into() {
    let text = small_dump().await.join("\n") + "\n";
    let users = MemoryStore::new();
    users.insert_user(&user("zed"), "h").await.unwrap();
    let error = backup::import(&users, text.as_bytes()).await.unwrap_err();
    assert!(matches!(&error, BackupError::NotEmpty(_)), "{error}");
    assert!(error.to_string().contains("not empty"), "{error}");

    let sessions = MemoryStore::new();
    let session = Session {
        token_hash: TokenHash([1; 32]),
        user: kanect_core::UserId::new(),
        created_at: Timestamp(1),
        expires_at: Timestamp(2),
        last_used: None,
        user_agent: None,
    };
    sessions.insert_session(&session).await.unwrap();
    assert!(matches!(backup::import(&sessions, text.as_bytes()).await, Err(BackupError::NotEmpty(_))));

    let uploads = MemoryStore::new();
    uploads.insert_attachment(&attachment(kanect_core::UserId::new(), 1)).await.unwrap();
    let error = backup::import(&uploads, text.as_bytes()).await.unwrap_err();
    assert!(matches!(&error, BackupError::NotEmpty(what) if what.contains("attachments")), "{error}");

    let invites = MemoryStore::new();
    let invite = Invite {
        id: InviteId::new(),
        token_hash: TokenHash([2; 32]),
        created_by: kanect_core::UserId::new(),
        created_at: Timestamp(1),
        expires_at: Timestamp(2),
        uses: 1,
        uses_left: 1,
    };
    invites.insert_invite(&invite).await.unwrap();
    let error = backup::import(&invites, text.as_bytes()).await.unwrap_err();
    assert!(matches!(&error, BackupError::NotEmpty(what) if what.contains("invites")), "{error}");
}

/// A dump written before attachments existed (no `attachment` lines, no message
/// `attachments`) imports as it did: its messages carry none, and there are no records.
#[tokio::test]
async fn a_dump_from_before_attachments_still_imports() {
    let lines = [
        r#"{"format":"kanect-dump","version":1}"#,
        r#"{"kind":"user","user":{"id":"0190a0d4-0000-7000-8000-000000000001","username":"alice","display_name":null,"email":null,"role":"user","created_at":1700000000000,"disabled":false,"last_seen":null},"password_hash":"h"}"#,
        r#"{"kind":"conversation","conversation":{"id":"0190a0d4-0000-7000-8000-000000000002","kind":"group","name":"team","owner":"0190a0d4-0000-7000-8000-000000000001","members":["0190a0d4-0000-7000-8000-000000000001"],"created_at":1700000000000}}"#,
        r#"{"kind":"message","message":{"id":"MESSAGE_ID","conversation":"0190a0d4-0000-7000-8000-000000000002","sender":"0190a0d4-0000-7000-8000-000000000001","seq":1,"body":"hi","client_id":"c1","sent_at":1700000000000,"edited_at":null,"deleted":false}}"#,
        r#"{"kind":"end","records":3}"#,
    ];
    // A message's id is a function of its conversation, sender and client id.
    let conversation: ConversationId = "0190a0d4-0000-7000-8000-000000000002".parse().unwrap();
    let sender = "0190a0d4-0000-7000-8000-000000000001".parse().unwrap();
    let id = new_message(conversation, sender, "c1", "hi").id();
    let text = lines.join("\n").replace("MESSAGE_ID", &id.to_string()) + "\n";
    let store = MemoryStore::new();
    let counts = backup::import(&store, text.as_bytes()).await.unwrap();
    assert_eq!((counts.messages, counts.attachments, counts.total()), (1, 0, 3));
    assert!(store.message(id).await.unwrap().unwrap().attachments.is_empty());
    assert_eq!(store.attachments_after(None, 1).await.unwrap(), []);
}

/// An export while messages are being sent: everything sent before it began is in the dump,
/// each conversation's messages are a gap-free run from seq 1, and the dump imports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_during_writes_holds_everything_acknowledged_before_it() {
    let store = std::sync::Arc::new(varied_store().await);
    let alice = store.user_by_username("alice").await.unwrap().unwrap();
    let busy = group(&[alice.id]);
    store.insert_conversation(&busy).await.unwrap();
    for i in 0..300 {
        store.append_message(new_message(busy.id, alice.id, &format!("before{i}"), "x")).await.unwrap();
    }
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..2_000 {
                store.append_message(new_message(busy.id, alice.id, &format!("during{i}"), "y")).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let (bytes, counts) = dump(&*store).await;
    writer.await.unwrap();

    let text = String::from_utf8(bytes.clone()).unwrap();
    let busy_id = busy.id.to_string();
    let seqs: Vec<u64> = text
        .lines()
        .filter(|line| line.starts_with(r#"{"kind":"message""#) && line.contains(&busy_id))
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["message"]["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.len() >= 300, "only {} of the conversation's messages", seqs.len());
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let imported = backup::import(&MemoryStore::new(), &bytes[..]).await.unwrap();
    assert_eq!(imported, counts);
}
