//! Deletion deletes, on PgStore: a deleted (or edited) message's old body is in the messages
//! table's files (heap and TOAST) after the `UPDATE`, and in none of them after
//! [`PgStore::purge`] and a checkpoint, read byte by byte from PostgreSQL's data directory; so
//! is a deleted attachment record's file name, in the attachments table's.
//!
//! Needs `KANECT_TEST_PG` naming a superuser (for `CHECKPOINT` and `data_directory`) of a
//! PostgreSQL on this machine whose data directory this process can read (tests run as root
//! here and in CI). PostgreSQL's WAL still holds the bodies; that is documented, not tested.

#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::backend::{Appended, AttachmentStore, MessageStore};
use kanect_core::testing::{attachment, new_message};
use kanect_core::{ConversationId, Message, StoreError, Timestamp, UserId};
use kanect_store::{PgConfig, PgStore};
use pg_support::{fresh_store, raw_client};
use std::path::PathBuf;
use std::time::Duration;

/// Other messages around the markers, so that they sit amid live rows on shared pages.
const TRAFFIC: usize = 300;

/// How often the test vacuums before it gives up: a transaction of another test on the same
/// database can hold back what `VACUUM` may remove, for a moment.
const ATTEMPTS: usize = 50;

/// A unique marker of upper-case letters (the traffic is lower case).
fn marker(tag: &str) -> String {
    let letters: Vec<char> = "GHIJKLMNOPQRSTUVWXYZ".chars().collect();
    let bytes = uuid::Uuid::new_v4().into_bytes().into_iter().chain(uuid::Uuid::new_v4().into_bytes());
    format!("{tag}{}", bytes.map(|byte| letters[usize::from(byte) % letters.len()]).collect::<String>())
}

/// A body too long to stay in the row (PostgreSQL moves it to the TOAST table) of random
/// printable characters, in which pglz finds nothing to compress in its first kilobyte and so
/// gives up: it is stored as is, and a byte search finds the marker.
fn toasted(marker: &str) -> String {
    let mut body = marker.to_string();
    while body.len() < 4000 {
        body.extend(uuid::Uuid::new_v4().into_bytes().map(|byte| char::from(b'!' + byte % 94)));
    }
    body
}

/// The files of `table` and of its TOAST table (every segment and fork).
async fn table_files(schema: &str, table: &str) -> Vec<PathBuf> {
    let client = raw_client(schema).await;
    let sql = "SELECT current_setting('data_directory') || '/' || pg_relation_filepath(oid) FROM pg_class \
               WHERE oid = $1::TEXT::regclass \
               OR oid = (SELECT reltoastrelid FROM pg_class WHERE oid = $1::TEXT::regclass)";
    let mut files = Vec::new();
    for row in client.query(sql, &[&table]).await.unwrap() {
        let base = PathBuf::from(row.get::<_, String>(0));
        let name = base.file_name().unwrap().to_string_lossy().to_string();
        let dir = base.parent().unwrap();
        let entries = std::fs::read_dir(dir).unwrap_or_else(|error| {
            panic!("this test reads PostgreSQL's files: cannot read {}: {error}", dir.display())
        });
        for entry in entries {
            let file = entry.unwrap().file_name().to_string_lossy().to_string();
            if file == name || file.starts_with(&format!("{name}.")) || file.starts_with(&format!("{name}_")) {
                files.push(dir.join(file));
            }
        }
    }
    assert!(files.len() >= 2, "no heap or TOAST file found: {files:?}");
    files
}

/// The files of `kanect_messages` that contain `needle`, after a checkpoint has written every
/// dirty page.
async fn files_containing(schema: &str, needle: &str) -> Vec<PathBuf> {
    files_of_containing(schema, "kanect_messages", needle).await
}

/// The files of `table` that contain `needle`, after a checkpoint has written every dirty page.
async fn files_of_containing(schema: &str, table: &str, needle: &str) -> Vec<PathBuf> {
    raw_client(schema).await.batch_execute("CHECKPOINT").await.unwrap();
    let mut found = Vec::new();
    for file in table_files(schema, table).await {
        let bytes = std::fs::read(&file).unwrap();
        if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
            found.push(file);
        }
    }
    found
}

async fn send(store: &PgStore, conversation: ConversationId, sender: UserId, client_id: &str, body: &str) -> Message {
    match store.append_message(new_message(conversation, sender, client_id, body)).await.unwrap() {
        Appended::Created(message) => message,
        Appended::Duplicate(message) => panic!("{client_id} was stored already: {message:?}"),
    }
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_purge_takes_a_deleted_attachments_file_name_out_of_the_tables_files() {
    let store = fresh_store().await;
    let schema = store.config().schema.clone().unwrap();
    let owner = UserId::new();
    let name_marker = marker("NAME");
    for n in 0..TRAFFIC {
        store.insert_attachment(&attachment(owner, n as u64)).await.unwrap();
    }
    let mut record = attachment(owner, 10);
    record.meta.name = format!("{name_marker}.pdf");
    store.insert_attachment(&record).await.unwrap();
    for n in 0..TRAFFIC {
        store.insert_attachment(&attachment(owner, n as u64)).await.unwrap();
    }
    assert_eq!(files_of_containing(&schema, "kanect_attachments", &name_marker).await.len(), 1, "not in the heap");

    assert!(store.delete_attachment(record.meta.id).await.unwrap());
    let mut left = Vec::new();
    for _ in 0..ATTEMPTS {
        store.purge().await.unwrap();
        left = files_of_containing(&schema, "kanect_attachments", &name_marker).await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, Vec::<PathBuf>::new(), "the name left after {ATTEMPTS} vacuums");
    assert_eq!(store.attachment(record.meta.id).await.unwrap(), None);
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_purge_takes_deleted_and_edited_bodies_out_of_the_tables_files() {
    let store = fresh_store().await;
    let schema = store.config().schema.clone().unwrap();
    let (conversation, sender) = (ConversationId::new(), UserId::new());
    let (deleted_marker, edited_marker) = (marker("DELETED"), marker("EDITED"));
    for n in 0..TRAFFIC {
        send(&store, conversation, sender, &format!("before-{n}"), &format!("ordinary text number {n}")).await;
    }
    let mut deleted = send(&store, conversation, sender, "deleted", &deleted_marker).await;
    let mut edited = send(&store, conversation, sender, "edited", &toasted(&edited_marker)).await;
    for n in 0..TRAFFIC {
        send(&store, conversation, sender, &format!("after-{n}"), &format!("ordinary text number {n}")).await;
    }
    assert_eq!(files_containing(&schema, &deleted_marker).await.len(), 1, "the inline body is not in the heap");
    assert_eq!(files_containing(&schema, &edited_marker).await.len(), 1, "the long body is not in the TOAST table");

    deleted.body.clear();
    deleted.deleted = true;
    edited.body = "the new text".into();
    edited.edited_at = Some(Timestamp(edited.sent_at.0 + 1));
    assert!(store.replace_message(&deleted).await.unwrap());
    assert!(store.replace_message(&edited).await.unwrap());
    // The old versions are dead rows now. PostgreSQL may prune a full heap page when it next
    // writes to it (the second update may have taken the first's dead row), but nothing
    // touches the TOAST table's pages again: the old long body is still there.
    assert_eq!(files_containing(&schema, &edited_marker).await.len(), 1);

    let mut left = Vec::new();
    for _ in 0..ATTEMPTS {
        store.purge().await.unwrap();
        left = files_containing(&schema, &deleted_marker).await;
        left.extend(files_containing(&schema, &edited_marker).await);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, Vec::<PathBuf>::new(), "old bodies left after {ATTEMPTS} vacuums");
    assert_eq!(store.message(deleted.id).await.unwrap(), Some(deleted));
    assert_eq!(store.message(edited.id).await.unwrap(), Some(edited));
}

/// `KANECT_TEST_PG`'s server and database, as `role`.
fn url_as(role: &str) -> String {
    let config: tokio_postgres::Config = pg_support::url().parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("host={host} port={port} dbname={} user={role}", config.get_dbname().unwrap_or("postgres"))
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_role_that_does_not_own_the_messages_table_cannot_purge() {
    let owner = fresh_store().await;
    let schema = owner.config().schema.clone().unwrap();
    let role = format!("{schema}_reader");
    let admin = raw_client(&schema).await;
    let database: String = admin.query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    admin
        .batch_execute(&format!(
            // What connecting needs (the migrations' `IF NOT EXISTS` checks privileges first),
            // and what the store's statements need, but not the tables' ownership.
            "CREATE ROLE {role} LOGIN; GRANT CREATE ON DATABASE {database} TO {role}; \
             GRANT ALL ON SCHEMA {schema} TO {role}; GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role}"
        ))
        .await
        .unwrap();
    let reader = PgStore::connect_with(PgConfig { schema: Some(schema.clone()), ..PgConfig::new(url_as(&role)) }).await;
    let refused = match &reader {
        Ok(reader) => reader.purge().await,
        Err(error) => panic!("cannot connect as {role}: {error:?}"),
    };
    drop(reader);
    admin.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    // PostgreSQL itself would only warn and vacuum nothing.
    assert!(matches!(refused, Err(StoreError::Backend(_))), "{refused:?}");
    let cause = refused.as_ref().err().and_then(std::error::Error::source).map(ToString::to_string);
    assert!(cause.as_deref().is_some_and(|cause| cause.contains("does not own kanect_messages")), "{refused:?}");
    owner.purge().await.unwrap();
}
