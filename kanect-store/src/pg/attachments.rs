//! [`AttachmentStore`] for [`PgStore`]: `kanect_attachments`, one row per uploaded file.
//!
//! A claim is one transaction: it locks the rows of the ids that are the owner's
//! (`SELECT ... FOR UPDATE`, in id order, so two claims of overlapping ids never deadlock),
//! checks them all, and updates those still unclaimed. A concurrent claim of any of them, on
//! any node, waits at the lock and then reads the row as the winner committed it: taken.
//! A refused claim rolls back, having written nothing. An owner's usage is a sum over the
//! owner index of `stored_bytes`.
//!
//! A deleted row held the file's name, the uploader's data as much as a message body: a
//! deletion marks the store for a vacuum (see `purge`), as a message's deletion does.

use super::rows::{self, attachment_columns};
use super::sql::{execute, limit, query, query_one, query_opt, Params};
use super::{db, PgStore};
use async_trait::async_trait;
use kanect_core::backend::{claim, AttachmentStore, ClaimRefused, StoreResult};
use kanect_core::{Attachment, AttachmentId, MessageRef, Timestamp, UserId};
use std::collections::HashMap;
use tokio_postgres::types::Json;
use uuid::Uuid;

#[async_trait]
impl AttachmentStore for PgStore {
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_attachments (id, owner, name, size, content_type, sha256, image, uploaded_at, \
                   thumbnail_size, stored_bytes, message_id, conversation_id) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                   ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, size = EXCLUDED.size, \
                   content_type = EXCLUDED.content_type, sha256 = EXCLUDED.sha256, image = EXCLUDED.image, \
                   uploaded_at = EXCLUDED.uploaded_at, thumbnail_size = EXCLUDED.thumbnail_size, \
                   stored_bytes = EXCLUDED.stored_bytes, message_id = EXCLUDED.message_id, \
                   conversation_id = EXCLUDED.conversation_id";
        let meta = &attachment.meta;
        let size = rows::signed(meta.size, "size")?;
        let uploaded_at = rows::signed(attachment.uploaded_at.0, "uploaded_at")?;
        let thumbnail_size = rows::signed(attachment.thumbnail_size, "thumbnail_size")?;
        let stored_bytes = rows::signed(attachment.stored_bytes(), "stored_bytes")?;
        let image = meta.image.map(Json);
        let message_id = attachment.message.map(|at| *at.message.as_uuid());
        let conversation_id = attachment.message.map(|at| *at.conversation.as_uuid());
        let client = self.client().await?;
        let params: Params<'_> = &[
            meta.id.as_uuid(),
            attachment.owner.as_uuid(),
            &meta.name,
            &size,
            &meta.content_type,
            &meta.sha256,
            &image,
            &uploaded_at,
            &thumbnail_size,
            &stored_bytes,
            &message_id,
            &conversation_id,
        ];
        execute(&client, sql, params).await.map(drop)
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        let sql = concat!("SELECT ", attachment_columns!(), " FROM kanect_attachments WHERE id = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[id.as_uuid()]).await?.as_ref().map(rows::attachment).transpose()
    }

    async fn claim_attachments(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<Result<Vec<Attachment>, ClaimRefused>> {
        let lock = concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM kanect_attachments WHERE id = ANY($1) AND owner = $2 ORDER BY id FOR UPDATE"
        );
        let update = "UPDATE kanect_attachments SET message_id = $2, conversation_id = $3 \
                     WHERE id = ANY($1) AND message_id IS NULL";
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut found: HashMap<AttachmentId, Attachment> = HashMap::with_capacity(ids.len());
        for row in query(&tx, lock, &[&uuids, owner.as_uuid()]).await? {
            let record = rows::attachment(&row)?;
            found.insert(record.meta.id, record);
        }
        let mut claimed = Vec::with_capacity(ids.len());
        for &id in ids {
            // Dropping `tx` unanswered rolls it back: a refusal writes nothing (it wrote nothing).
            match claim(id, found.remove(&id), owner, message, fresh_since) {
                Ok((record, _)) => claimed.push(record),
                Err(refused) => return Ok(Err(refused)),
            }
        }
        let params: Params<'_> = &[&uuids, message.message.as_uuid(), message.conversation.as_uuid()];
        execute(&tx, update, params).await?;
        tx.commit().await.map_err(db)?;
        Ok(Ok(claimed))
    }

    async fn delete_attachment(&self, id: AttachmentId) -> StoreResult<bool> {
        let client = self.client().await?;
        let deleted = execute(&client, "DELETE FROM kanect_attachments WHERE id = $1", &[id.as_uuid()]).await? > 0;
        if deleted {
            // The row (its file name) is a dead row version now, still in the table's pages.
            self.purge.mark_garbage();
        }
        Ok(deleted)
    }

    async fn attachment_usage(&self, owner: UserId) -> StoreResult<u64> {
        // SUM of BIGINT is NUMERIC: cast back (an overflow fails the query, never wraps).
        let sql = "SELECT COALESCE(SUM(stored_bytes), 0)::BIGINT FROM kanect_attachments WHERE owner = $1";
        let client = self.client().await?;
        let row = query_one(&client, sql, &[owner.as_uuid()]).await?;
        rows::unsigned(rows::first(&row)?, "attachment usage")
    }

    async fn attachments_after(&self, after: Option<AttachmentId>, count: usize) -> StoreResult<Vec<Attachment>> {
        let sql = concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM kanect_attachments WHERE $1::UUID IS NULL OR id > $1 ORDER BY id LIMIT $2"
        );
        let after = after.map(|id| *id.as_uuid());
        let client = self.client().await?;
        query(&client, sql, &[&after, &limit(count)]).await?.iter().map(rows::attachment).collect()
    }
}
