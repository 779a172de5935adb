//! `impl Store for PgStore`: one SQL statement (or one short transaction) per operation.
//!
//! How each invariant is kept across nodes is in the parent module's docs; the comments here
//! only say what is not obvious from the SQL.

use super::rows::{
    self, audit_columns, conversation_columns, message_columns, receipt_columns, session_columns, user_columns,
};
use super::{db, violates, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use kanect_core::{
    Appended, Attempt, AttemptKey, AuditEntry, AuditId, Conflict, Conversation, ConversationId, HistoryPage, Message,
    MessageId, NewMessage, Receipt, ReceiptKind, Seq, Session, SlowDown, Store, StoreError, StoreHealth, StoreResult,
    StoreStats, Timestamp, TokenHash, User, UserId, UserQuery, UserUpdate,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

async fn query(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query(&statement, params).await.map_err(db)
}

async fn query_opt(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query_opt(&statement, params).await.map_err(db)
}

async fn query_one(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query_one(&statement, params).await.map_err(db)
}

async fn execute(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.execute(&statement, params).await.map_err(db)
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn uuids(ids: &[UserId]) -> Vec<Uuid> {
    ids.iter().map(|id| *id.as_uuid()).collect()
}

const SELECT_CONVERSATION: &str =
    concat!("SELECT ", conversation_columns!(), " FROM kanect_conversations c WHERE c.id = $1");

/// Reads a conversation within `client`'s transaction (or on its own).
async fn load_conversation(client: &impl GenericClient, id: ConversationId) -> StoreResult<Option<Conversation>> {
    query_opt(client, SELECT_CONVERSATION, &[id.as_uuid()]).await?.as_ref().map(rows::conversation).transpose()
}

/// The message a (conversation, sender, client id) already names, if any.
async fn by_client_id(client: &impl GenericClient, message: &NewMessage) -> StoreResult<Option<Message>> {
    let sql = concat!(
        "SELECT ",
        message_columns!(),
        " FROM kanect_messages WHERE conversation = $1 AND sender = $2 AND client_id = $3"
    );
    let params: Params<'_> = &[message.conversation.as_uuid(), message.sender.as_uuid(), &message.client_id];
    query_opt(client, sql, params).await?.as_ref().map(rows::message).transpose()
}

impl PgStore {
    /// Adds or removes one member in a transaction that holds the conversation's row lock, so
    /// concurrent changes (from any node) apply one after the other and each returns the list
    /// as it left it.
    async fn change_member(&self, id: ConversationId, user: UserId, add: bool) -> StoreResult<Option<Conversation>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let lock = "SELECT 1 FROM kanect_conversations WHERE id = $1 FOR NO KEY UPDATE";
        if query_opt(&tx, lock, &[id.as_uuid()]).await?.is_none() {
            return Ok(None); // dropping `tx` rolls back
        }
        if add {
            let insert =
                "INSERT INTO kanect_memberships (conversation, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
            if execute(&tx, insert, &[id.as_uuid(), user.as_uuid()]).await? == 0 {
                return Err(StoreError::Conflict(Conflict::AlreadyMember));
            }
        } else {
            let delete = "DELETE FROM kanect_memberships WHERE conversation = $1 AND user_id = $2";
            execute(&tx, delete, &[id.as_uuid(), user.as_uuid()]).await?;
        }
        let conversation = load_conversation(&tx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(conversation)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_users (id, username, username_folded, display_name, display_name_lower, email, \
                   role, created_at, disabled, last_seen, password_hash) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let client = self.client().await?;
        let lower = user.display_name.as_deref().map(str::to_lowercase);
        let last_seen = user.last_seen.map(|t| rows::signed(t.0, "last_seen")).transpose()?;
        let params: Params<'_> = &[
            user.id.as_uuid(),
            &user.username,
            &User::fold(&user.username),
            &user.display_name,
            &lower,
            &user.email,
            &rows::role_text(user.role),
            &rows::signed(user.created_at.0, "created_at")?,
            &user.disabled,
            &last_seen,
            &password_hash,
        ];
        match execute(&client, sql, params).await {
            // The folded username (or, absurdly, the id) exists.
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(Conflict::UsernameTaken)),
            other => other.map(drop),
        }
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM kanect_users WHERE id = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[id.as_uuid()]).await?.as_ref().map(rows::user).transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM kanect_users WHERE username_folded = $1");
        if username.contains('\0') {
            return Ok(None); // PostgreSQL text cannot hold NUL, so no stored name does
        }
        let client = self.client().await?;
        query_opt(&client, sql, &[&User::fold(username)]).await?.as_ref().map(rows::user).transpose()
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        // One column per statement: a concurrent update of another column (on any node) stays.
        let client = self.client().await?;
        let row = match update {
            UserUpdate::Role(role) => {
                let sql = concat!("UPDATE kanect_users SET role = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &rows::role_text(role)]).await?
            }
            UserUpdate::Disabled(disabled) => {
                let sql = concat!("UPDATE kanect_users SET disabled = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &disabled]).await?
            }
            UserUpdate::LastSeen(at) => {
                let sql = concat!("UPDATE kanect_users SET last_seen = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &rows::signed(at.0, "last_seen")?]).await?
            }
        };
        row.as_ref().map(rows::user).transpose()
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        // One statement, so the account and its sessions go together.
        let sql = "WITH gone AS (DELETE FROM kanect_users WHERE id = $1 RETURNING id), \
                   sessions AS (DELETE FROM kanect_sessions WHERE user_id IN (SELECT id FROM gone)) \
                   SELECT count(*) FROM gone";
        let client = self.client().await?;
        let count: i64 = rows::first(&query_one(&client, sql, &[id.as_uuid()]).await?)?;
        Ok(count > 0)
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = query_opt(&client, "SELECT password_hash FROM kanect_users WHERE id = $1", &[id.as_uuid()]).await?;
        row.as_ref().map(rows::first).transpose()
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let sql = "UPDATE kanect_users SET password_hash = $2 WHERE id = $1";
        Ok(execute(&client, sql, &[id.as_uuid(), &hash]).await? > 0)
    }

    async fn users(&self, page: &UserQuery) -> StoreResult<Vec<User>> {
        // `username_folded` is COLLATE "C": byte order, as the other backends page.
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM kanect_users WHERE ($1::text IS NULL OR username_folded > $1) \
             AND ($2::text IS NULL OR strpos(username_folded, $2) > 0 OR strpos(display_name_lower, $2) > 0) \
             ORDER BY username_folded LIMIT $3"
        );
        // Client text may hold NUL, which PostgreSQL text cannot (nor, therefore, any stored
        // name): a search for it matches nobody, and names after "ab\0..." are those after "ab".
        if page.search.as_deref().is_some_and(|needle| needle.contains('\0')) {
            return Ok(Vec::new());
        }
        let after = page.after.as_deref().map(|after| after.split('\0').next().unwrap_or_default());
        let client = self.client().await?;
        let params: Params<'_> = &[&after, &page.search, &limit(page.limit)];
        query(&client, sql, params).await?.iter().map(rows::user).collect()
    }

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (token_hash) DO UPDATE SET user_id = EXCLUDED.user_id, \
                   created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at";
        let client = self.client().await?;
        let params: Params<'_> = &[
            &&session.token_hash.0[..],
            session.user.as_uuid(),
            &rows::signed(session.created_at.0, "created_at")?,
            &rows::signed(session.expires_at.0, "expires_at")?,
        ];
        execute(&client, sql, params).await.map(drop)
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        let sql = concat!("SELECT ", session_columns!(), " FROM kanect_sessions WHERE token_hash = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[&&token_hash.0[..]]).await?.as_ref().map(rows::session).transpose()
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let client = self.client().await?;
        let sql = "DELETE FROM kanect_sessions WHERE token_hash = $1";
        Ok(execute(&client, sql, &[&&token_hash.0[..]]).await? > 0)
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        let client = self.client().await?;
        execute(&client, "DELETE FROM kanect_sessions WHERE user_id = $1", &[user.as_uuid()]).await
    }

    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        // One transaction. The upsert takes the row lock of every key (inserting an expired
        // placeholder where there was no row) and reads the records; concurrent attempts at any
        // of these keys, from any node, wait on those locks until this transaction has written
        // its decision for all of them. Rows are locked in key order, the order the sorted
        // SELECT feeds them to the insert, so two attempts sharing keys never deadlock.
        let lock = "INSERT INTO kanect_login_attempts AS a (key, count, not_before, expires_at) \
                    SELECT key, 0, 0, 0 FROM unnest($1::bytea[]) AS key ORDER BY key \
                    ON CONFLICT (key) DO UPDATE SET count = a.count RETURNING key, count, not_before, expires_at";
        let update = "UPDATE kanect_login_attempts AS a \
                      SET count = n.count, not_before = n.not_before, expires_at = n.expires_at \
                      FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[]) \
                      AS n (key, count, not_before, expires_at) WHERE a.key = n.key";
        let ids: Vec<&[u8]> = keys.iter().map(|(key, _)| key.0.as_slice()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let current =
            query(&tx, lock, &[&ids]).await?.iter().map(rows::login_attempts).collect::<StoreResult<Vec<_>>>()?;
        let record_of = |key: &AttemptKey| current.iter().find(|(found, _)| found == key).map(|(_, record)| *record);
        let attempt = Attempt::decide(keys.iter().map(|(key, rule)| (*rule, record_of(key))), now);
        if let Attempt::Counted(records) = &attempt {
            let counts: Vec<i64> = records.iter().map(|record| i64::from(record.count)).collect();
            let not_before =
                records.iter().map(|r| rows::signed(r.not_before.0, "not_before")).collect::<StoreResult<Vec<_>>>()?;
            let expires_at =
                records.iter().map(|r| rows::signed(r.expires_at.0, "expires_at")).collect::<StoreResult<Vec<_>>>()?;
            execute(&tx, update, &[&ids, &counts, &not_before, &expires_at]).await?;
            tx.commit().await.map_err(db)?;
        }
        // A refusal drops `tx`, rolling back: nothing changed.
        Ok(attempt)
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        let client = self.client().await?;
        execute(&client, "DELETE FROM kanect_login_attempts WHERE key = $1", &[&key.0.as_slice()]).await.map(drop)
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        let client = self.client().await?;
        let sql = "DELETE FROM kanect_login_attempts WHERE expires_at <= $1";
        execute(&client, sql, &[&rows::clamped(now.0)]).await
    }

    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool> {
        let insert = "INSERT INTO kanect_conversations (id, kind, name, owner, created_at) \
                      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
        let members = "INSERT INTO kanect_memberships (conversation, user_id) SELECT $1, unnest($2::uuid[]) \
                       ON CONFLICT DO NOTHING";
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let params: Params<'_> = &[
            conversation.id.as_uuid(),
            &rows::kind_text(conversation.kind),
            &conversation.name,
            &conversation.owner.map(|owner| *owner.as_uuid()),
            &rows::signed(conversation.created_at.0, "created_at")?,
        ];
        if execute(&tx, insert, params).await? == 0 {
            return Ok(false); // another node made it first; dropping `tx` rolls back
        }
        execute(&tx, members, &[conversation.id.as_uuid(), &uuids(&conversation.members)]).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        let client = self.client().await?;
        load_conversation(&client, id).await
    }

    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.change_member(id, user, true).await
    }

    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.change_member(id, user, false).await
    }

    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        let sql = concat!(
            "WITH c AS (UPDATE kanect_conversations SET name = $2, owner = $3 WHERE id = $1 RETURNING *) SELECT ",
            conversation_columns!(),
            " FROM c"
        );
        let client = self.client().await?;
        let owner = owner.map(|owner| *owner.as_uuid());
        query_opt(&client, sql, &[id.as_uuid(), &name, &owner]).await?.as_ref().map(rows::conversation).transpose()
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        let sql = "SELECT conversation FROM kanect_memberships WHERE user_id = $1 ORDER BY joined";
        let client = self.client().await?;
        let rows = query(&client, sql, &[user.as_uuid()]).await?;
        rows.iter().map(|row| rows::first::<Uuid>(row).map(ConversationId::from)).collect()
    }

    async fn conversations(&self, after: Option<ConversationId>, count: usize) -> StoreResult<Vec<Conversation>> {
        let sql = concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM kanect_conversations c WHERE ($1::uuid IS NULL OR c.id > $1) ORDER BY c.id LIMIT $2"
        );
        let client = self.client().await?;
        let after = after.map(|id| *id.as_uuid());
        query(&client, sql, &[&after, &limit(count)]).await?.iter().map(rows::conversation).collect()
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        // One statement, so one round trip and its own transaction. The upsert locks the
        // conversation's seq row until commit: concurrent appends to this conversation, on any
        // node, wait there and then increment the committed value. A known client id fails
        // the message insert — on the client-id key, or on the id key first, as the id is
        // derived from the client id — which rolls the increment back with it (no gap); the
        // original is then read and returned.
        let sql = "WITH next AS (INSERT INTO kanect_conversation_seqs AS s (conversation, last_seq) VALUES ($1, 1) \
                   ON CONFLICT (conversation) DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq) \
                   INSERT INTO kanect_messages (conversation, seq, id, sender, body, client_id, sent_at) \
                   SELECT $1, next.last_seq, $2, $3, $4, $5, $6 FROM next RETURNING seq";
        let sent_at = rows::signed(message.sent_at.0, "sent_at")?;
        let id = message.id();
        let client = self.client().await?;
        let params: Params<'_> = &[
            message.conversation.as_uuid(),
            id.as_uuid(),
            message.sender.as_uuid(),
            &message.body,
            &message.client_id,
            &sent_at,
        ];
        let statement = client.prepare_cached(sql).await.map_err(db)?;
        match client.query_one(&statement, params).await {
            Ok(row) => {
                let seq = rows::unsigned(rows::first(&row)?, "seq")?;
                Ok(Appended::Created(message.with_seq(Seq(seq))))
            }
            Err(error)
                if violates(&error, "kanect_messages_client_key") || violates(&error, "kanect_messages_id_key") =>
            {
                let original = by_client_id(&client, &message).await?;
                original
                    .map(Appended::Duplicate)
                    .ok_or_else(|| StoreError::Corrupt("client id collided but its message is gone".to_string()))
            }
            Err(error) => Err(db(error)),
        }
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let sql = concat!("SELECT ", message_columns!(), " FROM kanect_messages WHERE id = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[id.as_uuid()]).await?.as_ref().map(rows::message).transpose()
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        let sql = "UPDATE kanect_messages SET body = $4, edited_at = $5, deleted = $6 \
                   WHERE conversation = $1 AND seq = $2 AND id = $3";
        let client = self.client().await?;
        let edited_at = message.edited_at.map(|t| rows::signed(t.0, "edited_at")).transpose()?;
        let params: Params<'_> = &[
            message.conversation.as_uuid(),
            &rows::clamped(message.seq.0),
            message.id.as_uuid(),
            &message.body,
            &edited_at,
            &message.deleted,
        ];
        Ok(execute(&client, sql, params).await? > 0)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        count: usize,
    ) -> StoreResult<Vec<Message>> {
        const NEWEST: &str = concat!(
            "SELECT ",
            message_columns!(),
            " FROM kanect_messages WHERE conversation = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        const OLDEST: &str = concat!(
            "SELECT ",
            message_columns!(),
            " FROM kanect_messages WHERE conversation = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let (sql, bound, newest_first) = match page {
            HistoryPage::Latest => (NEWEST, i64::MAX, true),
            HistoryPage::Before(seq) => (NEWEST, rows::clamped(seq.0), true),
            HistoryPage::After(seq) => (OLDEST, rows::clamped(seq.0), false),
        };
        let client = self.client().await?;
        let rows = query(&client, sql, &[conversation.as_uuid(), &bound, &limit(count)]).await?;
        let mut messages = rows.iter().map(rows::message).collect::<StoreResult<Vec<_>>>()?;
        if newest_first {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        let sql = "SELECT last_seq FROM kanect_conversation_seqs WHERE conversation = $1";
        let client = self.client().await?;
        match query_opt(&client, sql, &[conversation.as_uuid()]).await? {
            Some(row) => Ok(Seq(rows::unsigned(rows::first(&row)?, "last_seq")?)),
            None => Ok(Seq::ZERO),
        }
    }

    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        // Updates only when something moves (read <= delivered always holds, so delivered is
        // the larger of the two watermarks). A returned row is a move, except a fresh row
        // inserted at zero: the only way to come back as (0, 0).
        let sql = concat!(
            "INSERT INTO kanect_receipts AS r (conversation, user_id, delivered, read_up_to) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (conversation, user_id) DO UPDATE \
             SET delivered = GREATEST(r.delivered, EXCLUDED.delivered, r.read_up_to, EXCLUDED.read_up_to), \
             read_up_to = GREATEST(r.read_up_to, EXCLUDED.read_up_to) \
             WHERE EXCLUDED.delivered > r.delivered OR EXCLUDED.read_up_to > r.read_up_to RETURNING ",
            receipt_columns!()
        );
        let seq = rows::signed(seq.0, "seq")?;
        let read = if kind == ReceiptKind::Read { seq } else { 0 };
        let client = self.client().await?;
        let params: Params<'_> = &[conversation.as_uuid(), user.as_uuid(), &seq, &read];
        let receipt = query_opt(&client, sql, params).await?.as_ref().map(rows::receipt).transpose()?;
        Ok(receipt.filter(|r| (r.delivered, r.read) != (Seq::ZERO, Seq::ZERO)))
    }

    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        let sql =
            concat!("SELECT ", receipt_columns!(), " FROM kanect_receipts WHERE conversation = $1 ORDER BY user_id");
        let client = self.client().await?;
        query(&client, sql, &[conversation.as_uuid()]).await?.iter().map(rows::receipt).collect()
    }

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_audit (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)";
        let client = self.client().await?;
        let params: Params<'_> = &[
            entry.id.as_uuid(),
            &rows::signed(entry.at.0, "at")?,
            entry.actor.as_uuid(),
            &entry.action,
            &entry.target,
            &entry.detail,
        ];
        execute(&client, sql, params).await.map(drop)
    }

    async fn audit_log(&self, before: Option<AuditId>, count: usize) -> StoreResult<Vec<AuditEntry>> {
        let sql = concat!(
            "SELECT ",
            audit_columns!(),
            " FROM kanect_audit WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        );
        let client = self.client().await?;
        let before = before.map(|id| *id.as_uuid());
        query(&client, sql, &[&before, &limit(count)]).await?.iter().map(rows::audit).collect()
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        // Seqs are gap-free and messages are never removed (deletion blanks them), so the sum of
        // last seqs counts messages without scanning the message table.
        let sql = "SELECT (SELECT count(*) FROM kanect_users), (SELECT count(*) FROM kanect_conversations), \
                   (SELECT COALESCE(SUM(last_seq), 0)::bigint FROM kanect_conversation_seqs)";
        let client = self.client().await?;
        let row = query_one(&client, sql, &[]).await?;
        let count = |index: usize, what: &str| -> StoreResult<u64> {
            rows::unsigned(row.try_get(index).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))?, what)
        };
        Ok(StoreStats {
            users: count(0, "users")?,
            conversations: count(1, "conversations")?,
            messages: count(2, "messages")?,
        })
    }

    async fn flush(&self) -> StoreResult<()> {
        // Every write returned after its commit, which PostgreSQL had already made durable.
        Ok(())
    }

    async fn health(&self) -> StoreHealth {
        let answered = tokio::time::timeout(HEALTH_TIMEOUT, async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await.map_err(db)
        })
        .await;
        match answered {
            Ok(Ok(_)) => StoreHealth::Ok,
            Ok(Err(error)) => {
                tracing::warn!(%error, "health check: PostgreSQL does not answer");
                StoreHealth::Failed
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = HEALTH_TIMEOUT.as_millis() as u64,
                    "health check: PostgreSQL did not answer in time"
                );
                StoreHealth::Failed
            }
        }
    }
}

/// How long a health check waits for a pooled connection and a `SELECT 1`: well under the
/// timeout of a load balancer's health probe (often 1-2 s), so that a database that stalls
/// (rather than refusing) reads as failed, not as a node that does not answer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);
