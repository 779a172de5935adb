//! [`ConversationStore`] for [`PgStore`]: `kanect_conversations` and `kanect_memberships`; a
//! membership change is a transaction that locks the conversation's row.

use super::rows::{self, conversation_columns};
use super::sql::{execute, limit, query, query_opt, Params};
use super::{db, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use kanect_core::backend::{ConversationStore, StoreResult};
use kanect_core::{Conflict, Conversation, ConversationId, StoreError, UserId};
use uuid::Uuid;

fn uuids(ids: &[UserId]) -> Vec<Uuid> {
    ids.iter().map(|id| *id.as_uuid()).collect()
}

const SELECT_CONVERSATION: &str =
    concat!("SELECT ", conversation_columns!(), " FROM kanect_conversations c WHERE c.id = $1");

/// Reads a conversation within `client`'s transaction (or on its own).
async fn load_conversation(client: &impl GenericClient, id: ConversationId) -> StoreResult<Option<Conversation>> {
    query_opt(client, SELECT_CONVERSATION, &[id.as_uuid()]).await?.as_ref().map(rows::conversation).transpose()
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
impl ConversationStore for PgStore {
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
}
