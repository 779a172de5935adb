//! [`MessageStore`] for [`PgStore`]: `kanect_messages` (a message's attachments in its JSON
//! `attachments` column), `kanect_conversation_seqs` (each conversation's last seq) and
//! `kanect_receipts`. Appends go through the node's group commit (`append_batch`).

use super::rows::{self, message_columns, receipt_columns};
use super::sql::{execute, limit, query, query_opt, Params};
use super::{db, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use kanect_core::backend::{Appended, MessageStore, NewMessage, Reacted, ReactionChange, StoreResult};
use kanect_core::{ConversationId, HistoryPage, Message, MessageId, Receipt, ReceiptKind, Seq, StoreError, UserId};
use tokio_postgres::types::Json;

#[async_trait]
impl MessageStore for PgStore {
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        // Unchecked: the batch stores it or answers its original (see `append_batch`).
        self.appends
            .append(message, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("an unchecked append was refused".to_string()))
    }

    async fn append_member_message(&self, message: NewMessage) -> StoreResult<Option<Appended>> {
        self.appends.append(message, true).await
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let sql = concat!("SELECT ", message_columns!(), " FROM kanect_messages WHERE id = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[id.as_uuid()]).await?.as_ref().map(rows::message).transpose()
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        // kanect_core::backend::replace_fields, in SQL: reactions and event stay unless it is a
        // deletion.
        let sql =
            "UPDATE kanect_messages SET body = $4, edited_at = $5, deleted = $6, attachments = $7, mentions = $8, \
                   reactions = CASE WHEN $6 THEN '[]'::jsonb ELSE reactions END, \
                   event = CASE WHEN $6 THEN NULL ELSE event END \
                   WHERE conversation = $1 AND seq = $2 AND id = $3 AND NOT deleted";
        let client = self.client().await?;
        let edited_at = message.edited_at.map(|t| rows::signed(t.0, "edited_at")).transpose()?;
        let attachments = Json(&message.attachments);
        let mentions = Json(&message.mentions);
        let params: Params<'_> = &[
            message.conversation.as_uuid(),
            &rows::clamped(message.seq.0),
            message.id.as_uuid(),
            &message.body,
            &edited_at,
            &message.deleted,
            &attachments,
            &mentions,
        ];
        let replaced = execute(&client, sql, params).await? > 0;
        if replaced {
            // The old body (and the names of attachments it dropped) is a dead row version now,
            // still in the table's pages.
            self.purge.mark_garbage();
        }
        Ok(replaced)
    }

    async fn react(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &ReactionChange,
    ) -> StoreResult<Reacted> {
        let lock = concat!(
            "SELECT ",
            message_columns!(),
            " FROM kanect_messages WHERE conversation = $1 AND seq = $2 AND id = $3 FOR UPDATE"
        );
        let update = "UPDATE kanect_messages SET reactions = $4 WHERE conversation = $1 AND seq = $2 AND id = $3";
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let seq = rows::clamped(seq.0);
        let key: Params<'_> = &[conversation.as_uuid(), &seq, id.as_uuid()];
        let stored = query_opt(&tx, lock, key).await?.as_ref().map(rows::message).transpose()?;
        let (reacted, write) = Reacted::after(stored, change);
        if let (true, Reacted::Changed(changed)) = (write, &reacted) {
            let reactions = Json(&changed.reactions);
            execute(&tx, update, &[conversation.as_uuid(), &seq, id.as_uuid(), &reactions]).await?;
            tx.commit().await.map_err(db)?;
            // The reactions before are a dead row version now.
            self.purge.mark_garbage();
        }
        // Otherwise dropping `tx` rolls it back: it wrote nothing.
        Ok(reacted)
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
}
