//! Schema migrations: the SQL files under `kanect-store/migrations/`, embedded in the binary
//! and applied in order when a node connects.
//!
//! `kanect_schema_migrations` records each applied version. Everything happens in one
//! transaction that first takes `pg_advisory_xact_lock` (keyed by the schema): when several
//! nodes start at once, one migrates and the others wait, then find nothing left to do. A
//! failing migration rolls back entirely. A database whose newest version is beyond what this
//! build knows was migrated by a newer Kanect; this build refuses it rather than guess
//! ([`StoreError::Format`]).
//!
//! To change the schema, add `migrations/NNNN_what.sql` and a line to [`MIGRATIONS`]; never edit
//! a migration that has shipped.

use super::db;
use deadpool_postgres::GenericClient;
use kanect_core::backend::StoreResult;
use kanect_core::StoreError;

/// Every migration, oldest first: (version, name, SQL). Versions are 1, 2, 3, ...
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/0001_initial.sql")),
    (2, "login_attempts", include_str!("../../migrations/0002_login_attempts.sql")),
    (3, "attachments", include_str!("../../migrations/0003_attachments.sql")),
    (4, "blobs", include_str!("../../migrations/0004_blobs.sql")),
    (5, "search", include_str!("../../migrations/0005_search.sql")),
    (6, "replies_reactions", include_str!("../../migrations/0006_replies_reactions.sql")),
    (7, "invites", include_str!("../../migrations/0007_invites.sql")),
    (8, "notifications", include_str!("../../migrations/0008_notifications.sql")),
    (9, "mail", include_str!("../../migrations/0009_mail.sql")),
    (10, "profiles", include_str!("../../migrations/0010_profiles.sql")),
    (11, "account_lookup", include_str!("../../migrations/0011_account_lookup.sql")),
    (12, "rate_buckets", include_str!("../../migrations/0012_rate_buckets.sql")),
];

/// The newest version this build knows.
pub(super) const LATEST: i32 = MIGRATIONS.len() as i32;

/// First key of Kanect's advisory locks ("knct"); the second is a hash of the schema name.
const LOCK_CLASS: i32 = 0x6b6e_6374;

/// Brings the schema (`schema`, or the connection's current one) up to [`LATEST`].
pub(super) async fn run(client: &mut deadpool_postgres::Object, schema: Option<&str>) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(db)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE($2, current_schema(), '')))",
        &[&LOCK_CLASS, &schema],
    )
    .await
    .map_err(db)?;
    if let Some(schema) = schema {
        // The name was checked to be a plain identifier (see `check_schema_name`).
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.map_err(db)?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS kanect_schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(db)?;
    let current = current_version(&tx).await?;
    if current > LATEST {
        return Err(StoreError::Format(format!(
            "database schema version {current} is newer than this build's {LATEST}: upgrade Kanect"
        )));
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version > current) {
        tx.batch_execute(sql).await.map_err(db)?;
        tx.execute("INSERT INTO kanect_schema_migrations (version, name) VALUES ($1, $2)", &[&version, &name])
            .await
            .map_err(db)?;
        tracing::info!(version, name, "applied PostgreSQL schema migration");
    }
    tx.commit().await.map_err(db)
}

/// The newest applied version (0 for an empty database).
pub(super) async fn current_version(client: &impl GenericClient) -> StoreResult<i32> {
    let row =
        client.query_one("SELECT COALESCE(MAX(version), 0) FROM kanect_schema_migrations", &[]).await.map_err(db)?;
    row.try_get(0).map_err(|error| StoreError::Corrupt(format!("schema version: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (index, (version, name, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, index as i32 + 1, "{name}");
            assert!(!sql.trim().is_empty(), "{name}");
        }
        assert_eq!(LATEST, MIGRATIONS.last().map_or(0, |m| m.0));
    }
}
