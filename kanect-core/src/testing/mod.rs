//! The store conformance suite: one set of tests, written once, that every
//! [`Store`](crate::Store) runs.
//!
//! A backend crate instantiates it in a test file with a fresh-store expression and, for a
//! store that persists, a reopen hook: how to close a store and open the same one again, as a
//! restart of the process would.
//!
//! ```no_run
//! // tests/memory_conformance.rs: nothing survives a restart, so no hook
//! use kanect_core::MemoryStore;
//! kanect_core::store_conformance!(async { MemoryStore::new() });
//! # fn main() {}
//! ```
//!
//! ```text
//! // tests/sled_conformance.rs (kanect-store)
//! use kanect_store::SledStore;
//! kanect_core::store_conformance!(
//!     async { SledStore::temporary().unwrap() },
//!     reopen = |store: SledStore| async move { store.reopen().unwrap() },
//! );
//! ```
//!
//! Attributes given before the expression go on every generated test (for example a
//! `cfg_attr(..., ignore)` for a backend that needs a running database). The cases are in
//! [`suite`], a module per domain trait. The suite includes a model test ([`model_test`],
//! [`model_test_across_restarts`]): random operation sequences applied to the store and to a
//! plain in-memory model, compared after every step, with restarts when there is a hook. A
//! backend is done when the whole suite passes on it.
//!
//! Blob stores have a suite of their own, [`blob_conformance!`](crate::blob_conformance)
//! (module [`blob`]), and search indexes too, [`search_conformance!`](crate::search_conformance)
//! (module [`search`]).
//!
//! For tests of the engine: [`FaultyStore`] (module `faulty`) wraps a store and fails the calls
//! a test chooses; [`delegate_store!`](crate::delegate_store) writes a wrapper's impl of a
//! domain trait that hands every call on; [`run_in_child`] (module `child`) runs a test again
//! in a process of its own.

pub mod blob;
mod child;
mod delegate;
mod faulty;
mod model;
pub mod search;
pub mod suite;

pub use child::run_in_child;
pub use faulty::FaultyStore;
pub use model::{model_test, model_test_across_restarts};

use crate::id::{AttachmentId, ConversationId, UserId};
use crate::model::{
    Appended, Attachment, AttachmentMeta, Conversation, ConversationKind, Message, NewMessage, Role, Timestamp, User,
};

#[doc(hidden)]
pub use async_trait::async_trait;
#[doc(hidden)]
pub use proptest;

/// Generates one `#[tokio::test]` per conformance case, in a module per domain (`users`,
/// `sessions`, `login_attempts`, `conversations`, `messages`, `attachments`, `admin`, `invites`, `account_tokens`,
/// `notifications`, `secrets`, `store`), plus the
/// model test.
///
/// `$make` is an expression evaluating to a future of a fresh, empty store; it is evaluated
/// once per test (and once per model-test case), inside the generated modules, which see the
/// calling module's items. `reopen = $reopen` (optional) is a function from the store to a
/// future of the same store closed and opened again; with it, the model test restarts the
/// store mid-sequence (see [`model_test_across_restarts`]). The calling crate needs `tokio`
/// with the `macros` and `rt-multi-thread` features among its dev-dependencies.
#[macro_export]
macro_rules! store_conformance {
    // Leading attributes are gathered one at a time: a single `$(#[$attr:meta])* $make:expr`
    // matcher is ambiguous (an expression may itself start with an attribute) and rejected.
    (@attrs [$($attrs:tt)*] #[$attr:meta] $($rest:tt)*) => {
        $crate::store_conformance!(@attrs [$($attrs)* #[$attr]] $($rest)*);
    };
    (@attrs [$(#[$attr:meta])*] $make:expr, reopen = $reopen:expr $(,)?) => {
        $crate::store_conformance!(@suite [$(#[$attr])*] $make);

        $(#[$attr])*
        #[test]
        fn store_matches_model_under_random_operations() {
            $crate::testing::model_test_across_restarts(|| $make, $reopen);
        }
    };
    (@attrs [$(#[$attr:meta])*] $make:expr $(,)?) => {
        $crate::store_conformance!(@suite [$(#[$attr])*] $make);

        $(#[$attr])*
        #[test]
        fn store_matches_model_under_random_operations() {
            $crate::testing::model_test(|| $make);
        }
    };
    // Every case, by the domain module of `suite` it is in.
    (@suite $attrs:tt $make:expr) => {
        $crate::store_conformance!(@domain $attrs $make; users:
            users_are_unique_case_insensitively,
            user_updates_change_one_field,
            profile_fields_change_and_stay,
            deleting_a_user_removes_credentials_and_sessions,
            email_updates_verify_only_the_current_address,
            users_are_found_by_email_through_every_change,
            users_page_in_username_order_and_search);
        $crate::store_conformance!(@domain $attrs $make; sessions:
            sessions_round_trip,
            sessions_page_in_token_hash_order,
            sessions_list_per_user_and_record_their_use);
        $crate::store_conformance!(@domain $attrs $make; login_attempts:
            login_attempts_slow_down_per_key,
            a_refused_login_attempt_counts_at_no_key,
            concurrent_login_attempts_never_exceed_the_allowance,
            concurrent_login_attempts_count_at_every_key_or_none);
        $crate::store_conformance!(@domain $attrs $make; conversations:
            conversations_insert_once_and_index_members,
            memberships_change_atomically);
        $crate::store_conformance!(@domain $attrs $make; messages:
            appends_assign_gap_free_seqs_and_dedupe_client_ids,
            concurrent_appends_are_gap_free,
            history_pages_in_both_directions,
            messages_are_found_by_id_and_replaced,
            replies_and_mentions_are_stored_with_the_message,
            reactions_change_atomically_and_go_with_a_deletion,
            concurrent_reactions_all_count,
            receipts_only_move_forward);
        $crate::store_conformance!(@domain $attrs $make; attachments:
            attachments_round_trip_and_page_in_id_order,
            an_insert_replaces_the_record,
            claims_take_all_or_nothing,
            expired_uploads_are_not_claimed,
            concurrent_claims_have_one_winner,
            usage_counts_an_owners_bytes,
            messages_keep_their_attachments);
        $crate::store_conformance!(@domain $attrs $make; admin:
            audit_log_pages_newest_first,
            stats_count_everything);
        $crate::store_conformance!(@domain $attrs $make; invites:
            invites_round_trip_and_page_newest_first,
            redemptions_take_one_use_each,
            concurrent_redemptions_never_exceed_the_uses);
        $crate::store_conformance!(@domain $attrs $make; account_tokens:
            account_tokens_are_taken_once_by_purpose,
            account_tokens_are_deleted_per_user_and_page_in_hash_order,
            concurrent_takes_of_a_token_have_one_winner,
            a_put_replaces_the_users_token_of_its_purpose,
            concurrent_puts_leave_one_token);
        $crate::store_conformance!(@domain $attrs $make; notifications:
            notification_settings_round_trip,
            push_subscriptions_are_per_user_and_endpoint);
        $crate::store_conformance!(@domain $attrs $make; secrets:
            secrets_are_written_once,
            concurrent_inits_agree);
        $crate::store_conformance!(@domain $attrs $make; store: a_working_store_reports_itself_healthy);
    };
    (@domain $attrs:tt $make:expr; $domain:ident: $($case:ident),+) => {
        mod $domain {
            #[allow(unused_imports)]
            use super::*;
            $($crate::store_conformance!(@case $attrs $make; $domain::$case);)+
        }
    };
    (@case [$(#[$attr:meta])*] $make:expr; $domain:ident::$case:ident) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let store = ::std::sync::Arc::new($make.await);
            $crate::testing::suite::$domain::$case(store).await;
        }
    };
    ($($input:tt)*) => {
        $crate::store_conformance!(@attrs [] $($input)*);
    };
}

/// A fresh user record named `name` (role user, an example.com email), for store tests.
pub fn user(name: &str) -> User {
    User {
        id: UserId::new(),
        username: name.to_string(),
        display_name: None,
        email: Some(format!("{name}@example.com")),
        role: Role::User,
        created_at: Timestamp(1_700_000_000_000),
        disabled: false,
        last_seen: None,
        email_verified: false,
        digests_off: false,
        digested_at: None,
        status: None,
        avatar: None,
    }
}

/// A group conversation record with a new id, for store tests.
pub fn group(members: &[UserId]) -> Conversation {
    let mut members = members.to_vec();
    members.sort();
    Conversation {
        id: ConversationId::new(),
        kind: ConversationKind::Group,
        name: Some("team".into()),
        owner: members.first().copied(),
        members,
        created_at: Timestamp(1_700_000_000_000),
    }
}

/// A message to append, as the engine would hand it to a store, for store tests.
pub fn new_message(conversation: ConversationId, sender: UserId, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        conversation,
        sender,
        body: body.to_string(),
        client_id: client_id.to_string(),
        sent_at: Timestamp(1_700_000_000_000),
        attachments: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
        event: None,
    }
}

/// An unclaimed attachment record of `size` bytes owned by `owner`, for store tests.
pub fn attachment(owner: UserId, size: u64) -> Attachment {
    let id = AttachmentId::new();
    Attachment {
        meta: AttachmentMeta {
            id,
            name: format!("file-{id}.bin"),
            size,
            content_type: "application/octet-stream".into(),
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            image: None,
        },
        owner,
        uploaded_at: Timestamp(1_700_000_000_000),
        thumbnail_size: 0,
        message: None,
    }
}

fn created(appended: Appended) -> Message {
    match appended {
        Appended::Created(message) => message,
        Appended::Duplicate(message) => panic!("expected a new message, got duplicate {message:?}"),
    }
}
