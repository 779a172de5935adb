//! PgStore beyond the conformance suite: migrations, several nodes on one database, races the
//! suite cannot provoke, and failures. Needs `KANECT_TEST_PG`, except where noted.
#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::backend::{
    AccountTokenStore, Appended, AttachmentStore, Attempt, AttemptKey, ClaimRefused, LoginAttemptStore, MessageStore,
    NewMessage, Store, UserQuery, UserStore,
};
use kanect_core::testing::{attachment, user};
use kanect_core::{ConversationId, MessageId, MessageRef, Seq, StoreError, StoreHealth, Timestamp, UserId};
use kanect_store::{PgConfig, PgStore};
use pg_support::{config, fresh_store, raw_client, schema_name};
use std::sync::Arc;
use std::time::Duration;

fn new_message(conversation: ConversationId, sender: UserId, client_id: &str) -> NewMessage {
    kanect_core::testing::new_message(conversation, sender, client_id, "hi")
}

/// The migrations of the schema versions before this build's newest, oldest first.
const OLD_MIGRATIONS: [&str; 10] = [
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_login_attempts.sql"),
    include_str!("../migrations/0003_attachments.sql"),
    include_str!("../migrations/0004_blobs.sql"),
    include_str!("../migrations/0005_search.sql"),
    include_str!("../migrations/0006_replies_reactions.sql"),
    include_str!("../migrations/0007_invites.sql"),
    include_str!("../migrations/0008_notifications.sql"),
    include_str!("../migrations/0009_mail.sql"),
    include_str!("../migrations/0010_profiles.sql"),
];

/// A new schema `schema` as a build of schema version `version` left it (empty), and a client
/// on it.
async fn schema_of_version(schema: &str, version: usize) -> tokio_postgres::Client {
    raw_client("public").await.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let old = raw_client(schema).await;
    for sql in &OLD_MIGRATIONS[..version] {
        old.batch_execute(sql).await.unwrap();
    }
    old.batch_execute(&format!(
        "CREATE TABLE kanect_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
         INSERT INTO kanect_schema_migrations (version, name) SELECT v, 'old' FROM generate_series(1, {version}) v"
    ))
    .await
    .unwrap();
    old
}

async fn applied_versions(schema: &str) -> Vec<i32> {
    let client = raw_client(schema).await;
    let rows = client.query("SELECT version FROM kanect_schema_migrations ORDER BY version", &[]).await.unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn reconnecting_applies_nothing_twice_and_keeps_data() {
    let schema = schema_name();
    let first = PgStore::connect_with(config(&schema)).await.unwrap();
    let alice = user("alice");
    first.insert_user(&alice, "hash").await.unwrap();
    drop(first);
    let again = PgStore::connect_with(config(&schema)).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), PgStore::SCHEMA_VERSION);
    assert_eq!(again.user(alice.id).await.unwrap(), Some(alice));
    assert_eq!(applied_versions(&schema).await, (1..=PgStore::SCHEMA_VERSION).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn nodes_starting_at_once_migrate_once() {
    let schema = schema_name();
    let starts: Vec<_> = (0..6).map(|_| tokio::spawn(PgStore::connect_with(config(&schema)))).collect();
    for start in starts {
        let store = start.await.unwrap().unwrap();
        assert_eq!(store.schema_version().await.unwrap(), PgStore::SCHEMA_VERSION);
    }
    assert_eq!(applied_versions(&schema).await, (1..=PgStore::SCHEMA_VERSION).collect::<Vec<_>>());
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_schema_newer_than_this_build_is_refused() {
    let schema = schema_name();
    drop(PgStore::connect_with(config(&schema)).await.unwrap());
    let newer = PgStore::SCHEMA_VERSION + 1;
    raw_client(&schema)
        .await
        .execute("INSERT INTO kanect_schema_migrations (version, name) VALUES ($1, 'from the future')", &[&newer])
        .await
        .unwrap();
    let refused = PgStore::connect_with(config(&schema)).await;
    assert!(matches!(refused, Err(StoreError::Format(_))), "{refused:?}");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_schema_from_before_attachments_is_migrated_and_its_messages_carry_none() {
    // A database as a build of schema version 2 left it, with a message in it.
    let schema = schema_name();
    let old = schema_of_version(&schema, 2).await;
    let new = new_message(ConversationId::new(), UserId::new(), "c1");
    let message = new.clone().with_seq(Seq(1));
    old.execute(
        "INSERT INTO kanect_messages (conversation, seq, id, sender, body, client_id, sent_at) \
         VALUES ($1, 1, $2, $3, $4, $5, $6)",
        &[
            message.conversation.as_uuid(),
            message.id.as_uuid(),
            message.sender.as_uuid(),
            &message.body,
            &message.client_id,
            &i64::try_from(message.sent_at.0).unwrap(),
        ],
    )
    .await
    .unwrap();

    let store = PgStore::connect_with(config(&schema)).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), PgStore::SCHEMA_VERSION);
    assert_eq!(store.message(message.id).await.unwrap(), Some(message.clone()));
    assert!(message.attachments.is_empty());
    assert_eq!(store.attachments_after(None, 10).await.unwrap(), []);
    let owner = UserId::new();
    store.insert_attachment(&attachment(owner, 9)).await.unwrap();
    assert_eq!(store.attachment_usage(owner).await.unwrap(), 9);
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_schema_of_version_10_keeps_each_users_newest_token_and_finds_its_users_by_address() {
    // A database as a build of schema version 10 left it: two reset tokens of one user (as a
    // race could leave them) and a verification token of the same user, and an account with an
    // address.
    let schema = schema_name();
    let old = schema_of_version(&schema, 10).await;
    let erin = user("erin");
    old.execute(
        "INSERT INTO kanect_users (id, username, username_folded, email, role, created_at, disabled, password_hash) \
         VALUES ($1, 'erin', 'erin', 'Erin@Example.com', 'user', 1, false, 'h')",
        &[erin.id.as_uuid()],
    )
    .await
    .unwrap();
    for (byte, purpose, created_at) in [(1u8, "reset", 10i64), (2, "reset", 20), (3, "verify", 5)] {
        old.execute(
            "INSERT INTO kanect_account_tokens (token_hash, purpose, user_id, address, created_at, expires_at) \
             VALUES ($1, $2, $3, 'erin@example.com', $4, 99)",
            &[&vec![byte; 32], &purpose, erin.id.as_uuid(), &created_at],
        )
        .await
        .unwrap();
    }

    let store = PgStore::connect_with(config(&schema)).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), PgStore::SCHEMA_VERSION);
    let left: Vec<u8> = store.account_tokens(None, 10).await.unwrap().iter().map(|t| t.token_hash.0[0]).collect();
    assert_eq!(left, [2, 3], "the newer reset token and the verification token stay");
    let found = store.users_by_email("erin@EXAMPLE.COM").await.unwrap();
    assert_eq!(found.iter().map(|user| user.id).collect::<Vec<_>>(), [erin.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn overlapping_claims_on_two_nodes_have_one_winner_and_never_deadlock() {
    // Each claim names the two ids in the other's order: rows locked in the order named could
    // deadlock (PostgreSQL would then abort one with an error); locked in id order, one waits.
    let schema = schema_name();
    let nodes = [
        Arc::new(PgStore::connect_with(config(&schema)).await.unwrap()),
        Arc::new(PgStore::connect_with(config(&schema)).await.unwrap()),
    ];
    let owner = UserId::new();
    for _ in 0..20 {
        let (a, b) = (attachment(owner, 1), attachment(owner, 2));
        nodes[0].insert_attachment(&a).await.unwrap();
        nodes[0].insert_attachment(&b).await.unwrap();
        let claims: Vec<_> = [vec![a.meta.id, b.meta.id], vec![b.meta.id, a.meta.id]]
            .into_iter()
            .zip(nodes.iter().cloned())
            .map(|(ids, node)| {
                let message = MessageRef { conversation: ConversationId::new(), message: MessageId::new() };
                tokio::spawn(async move {
                    (message, node.claim_attachments(&ids, owner, message, kanect_core::Timestamp(0)).await.unwrap())
                })
            })
            .collect();
        let mut winners = Vec::new();
        for claim in claims {
            match claim.await.unwrap() {
                (message, Ok(claimed)) => {
                    assert_eq!(claimed.len(), 2);
                    winners.push(message);
                }
                (_, Err(refused)) => assert!(matches!(refused, ClaimRefused::Taken(_)), "{refused:?}"),
            }
        }
        assert_eq!(winners.len(), 1);
        for id in [a.meta.id, b.meta.id] {
            assert_eq!(nodes[1].attachment(id).await.unwrap().unwrap().message, Some(winners[0]));
        }
    }
    assert_eq!(nodes[1].attachment_usage(owner).await.unwrap(), 60);
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn without_a_schema_the_connections_search_path_is_used() {
    // What a server does: no `PgConfig::schema`; here the URL's options pick a scratch schema
    // so that the test database's `public` stays clean.
    let schema = schema_name();
    raw_client("public").await.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let separator = if pg_support::url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options=-c%20search_path%3D{schema}", pg_support::url());
    let store = PgStore::connect(&url).await.unwrap();
    store.insert_user(&user("alice"), "h").await.unwrap();
    let tables: i64 = raw_client("public")
        .await
        .query_one("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", &[&schema])
        .await
        .unwrap()
        .get(0);
    assert!(tables >= 9, "the schema holds Kanect's tables, found {tables}");
    assert_eq!(applied_versions(&schema).await, (1..=PgStore::SCHEMA_VERSION).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn racing_resends_store_one_message_and_leave_no_gap() {
    let store = Arc::new(fresh_store().await);
    let conversation = ConversationId::new();
    let sender = UserId::new();
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append_message(new_message(conversation, sender, "same")).await })
        })
        .collect();
    let mut created = Vec::new();
    let mut ids = Vec::new();
    for send in sends {
        let appended = send.await.unwrap().unwrap();
        ids.push(appended.message().id);
        if let Appended::Created(message) = appended {
            created.push(message);
        }
    }
    assert_eq!(created.len(), 1, "exactly one resend creates the message");
    assert!(ids.iter().all(|id| *id == created[0].id), "every resend returns the original");
    assert_eq!(store.last_seq(conversation).await.unwrap(), Seq(1));
    let next = store.append_message(new_message(conversation, sender, "next")).await.unwrap();
    assert_eq!(next.message().seq, Seq(2), "losing resends left no gap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_login_attempt_takes_its_keys_in_key_order() {
    // Two attempts sharing keys, each locking them in the order it names them, could deadlock
    // (one holds a key the other waits for, and the other way round). Locked in key order, an
    // attempt waiting for a key holds none of the higher ones meanwhile.
    let schema = schema_name();
    let store = Arc::new(PgStore::connect_with(config(&schema)).await.unwrap());
    let rule = kanect_core::LoginLimits::default().per_account;
    let (low, high) = (AttemptKey([1; 32]), AttemptKey([2; 32]));
    let now = Timestamp(1_700_000_000_000);
    store.count_login_attempt(&[(low, rule), (high, rule)], now).await.unwrap();
    // Another session holds the lower key's row.
    let mut holder = raw_client(&schema).await;
    let holder = holder.transaction().await.unwrap();
    holder.execute("SELECT 1 FROM kanect_login_attempts WHERE key = $1 FOR UPDATE", &[&&low.0[..]]).await.unwrap();
    let holder_pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    // An attempt naming the higher key first waits for the lower one...
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.count_login_attempt(&[(high, rule), (low, rule)], now).await.unwrap() }
    });
    let watcher = raw_client(&schema).await;
    let blocked = "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))";
    for _ in 0..1000 {
        if watcher.query_one(blocked, &[&holder_pid]).await.unwrap().get::<_, i64>(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(watcher.query_one(blocked, &[&holder_pid]).await.unwrap().get::<_, i64>(0), 1, "it waits");
    // ...holding no lock on the higher one: an attempt at that key alone goes through.
    let alone = tokio::time::timeout(Duration::from_secs(10), store.count_login_attempt(&[(high, rule)], now)).await;
    let alone = alone.expect("the waiting attempt holds the higher key").unwrap();
    assert!(matches!(&alone, Attempt::Counted(records) if records[0].count == 2), "{alone:?}");
    holder.commit().await.unwrap();
    let Attempt::Counted(records) = waiting.await.unwrap() else { panic!("refused") };
    assert_eq!(records.iter().map(|record| record.count).collect::<Vec<_>>(), [3, 2], "in the order named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn two_nodes_on_one_database_share_seqs_and_usernames() {
    let schema = schema_name();
    let nodes = [
        Arc::new(PgStore::connect_with(config(&schema)).await.unwrap()),
        Arc::new(PgStore::connect_with(config(&schema)).await.unwrap()),
    ];
    let conversation = ConversationId::new();
    let mut tasks = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        for task in 0..3 {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                let sender = UserId::new();
                let mut seqs = Vec::new();
                for i in 0..50 {
                    let message = new_message(conversation, sender, &format!("n{index}-t{task}-{i}"));
                    seqs.push(node.append_message(message).await.unwrap().message().seq.0);
                }
                seqs
            }));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=300).collect::<Vec<u64>>());
    nodes[0].insert_user(&user("Zoe"), "h").await.unwrap();
    let clash = nodes[1].insert_user(&user("zoe"), "h").await;
    assert!(matches!(clash, Err(StoreError::Conflict(kanect_core::Conflict::UsernameTaken))), "{clash:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn dropped_connections_fail_calls_then_the_pool_recovers() {
    let schema = schema_name();
    let application = format!("kt_{}", &schema[schema.len() - 12..]);
    let separator = if pg_support::url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={application}", pg_support::url());
    let store = PgStore::connect_with(PgConfig { url, ..config(&schema) }).await.unwrap();
    let alice = user("alice");
    store.insert_user(&alice, "h").await.unwrap();
    let killed = raw_client(&schema)
        .await
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&application])
        .await
        .unwrap();
    assert!(killed >= 1, "the store's connection was found");
    let mut failures = 0;
    let recovered = loop {
        match store.user(alice.id).await {
            Ok(found) => break found,
            Err(error) => {
                assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
                failures += 1;
                assert!(failures <= 8, "the pool never recovered");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(recovered, Some(alice));
}

/// A TCP relay to the test database that can be cut: what a node sees when the database, or
/// the network to it, goes away. Cut, it closes the connections it relays and accepts new ones
/// without ever answering them (a stalled network, not a refusing one).
struct Relay {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start() -> Relay {
        let pg: tokio_postgres::Config = pg_support::url().parse().unwrap();
        let host = match &pg.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("the relay needs a TCP host, not {other:?}"),
        };
        let target = format!("{host}:{}", pg.get_ports().first().copied().unwrap_or(5432));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut stalled = Vec::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    stalled.push(inbound);
                    continue;
                }
                let (target, mut watch) = (target.clone(), watch.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { addr, cut }
    }

    /// A connection string for the test database through the relay.
    fn url(&self) -> String {
        let pg: tokio_postgres::Config = pg_support::url().parse().unwrap();
        let mut url = format!("host={} port={}", self.addr.ip(), self.addr.port());
        if let Some(user) = pg.get_user() {
            url.push_str(&format!(" user={user}"));
        }
        if let Some(dbname) = pg.get_dbname() {
            url.push_str(&format!(" dbname={dbname}"));
        }
        if let Some(password) = pg.get_password() {
            url.push_str(&format!(" password={}", String::from_utf8_lossy(password)));
        }
        url
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn health_says_failed_while_the_database_is_out_of_reach_and_ok_once_it_is_back() {
    let relay = Relay::start().await;
    // A connection attempt into the stalled relay would wait this long: the health check must
    // give up long before.
    let patient = Duration::from_secs(120);
    let config = PgConfig { url: relay.url(), connect_timeout: patient, ..config(&schema_name()) };
    let store = PgStore::connect_with(config).await.unwrap();
    assert_eq!(store.health().await, StoreHealth::Ok);

    relay.cut.send_replace(true);
    // The pooled connection is broken; the next check needs a new one, which stalls.
    for check in 0..2 {
        let health = tokio::time::timeout(Duration::from_secs(30), store.health()).await;
        assert_eq!(health.expect("a health check gives up on its own"), StoreHealth::Failed, "check {check}");
    }

    relay.cut.send_replace(false);
    let mut checks = 0;
    while store.health().await != StoreHealth::Ok {
        checks += 1;
        assert!(checks <= 20, "the store did not report ok once the database was back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.insert_user(&user("back"), "h").await.unwrap();
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn lookups_with_nul_bytes_find_nothing_rather_than_fail() {
    let store = fresh_store().await;
    for name in ["alpha", "beta"] {
        store.insert_user(&user(name), "h").await.unwrap();
    }
    assert_eq!(store.user_by_username("alpha\0").await.unwrap(), None);
    let search = UserQuery { search: Some("\0".into()), limit: 10, ..Default::default() };
    assert!(store.users(&search).await.unwrap().is_empty());
    let after = UserQuery { after: Some("alpha\0zz".into()), limit: 10, ..Default::default() };
    let names: Vec<String> = store.users(&after).await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["beta"]);
}

/// Runs without a database: nothing listens on port 1.
#[tokio::test]
async fn an_unreachable_database_is_a_backend_error() {
    let config =
        PgConfig { connect_timeout: Duration::from_secs(2), ..PgConfig::new("postgres://kanect@127.0.0.1:1/db") };
    let error = PgStore::connect_with(config).await.unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
}

/// Runs without a database: the schema name is checked before connecting.
#[tokio::test]
async fn a_schema_name_that_is_not_a_plain_identifier_is_refused() {
    let config =
        PgConfig { schema: Some("x; DROP TABLE users".into()), ..PgConfig::new("postgres://kanect@127.0.0.1:1/db") };
    let error = PgStore::connect_with(config).await.unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
}
