//! The index of users by e-mail address (`0x14` keys, see `keys`) for both embedded engines:
//! which entry a user record has, how a write of a record moves it, and the lookup.
//!
//! Each engine's user writes call [`reindex`] with the record before and after, in the batch
//! that writes the record (under the `accounts` lock), so the index never parts from the
//! records: create adds the entry, a change of address moves it, a deletion removes it. The
//! lookup re-checks each record's address, so even an entry left by a bug finds no one wrong.

use super::engine::Engine;
use super::keys;
use kanect_core::backend::StoreResult;
use kanect_core::{User, UserId};

/// The index entry of `user`'s record: none without an address.
pub(crate) fn entry(user: &User) -> Option<Vec<u8>> {
    user.email.as_deref().map(|email| keys::user_email(&User::fold_email(email), user.id))
}

/// The index entry of the user record `value` stored under `key`: for a format upgrade, which
/// builds the index from the records.
pub(crate) fn entry_of_record(key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>> {
    Ok(entry(&super::records::decode::<User>("user", key, value)?))
}

/// Adds to `batch` what moves the index from record `before` to record `after` (None: no
/// record) of one user: nothing if the entry stays the same.
pub(crate) fn reindex<E: Engine>(engine: &E, batch: &mut E::Batch, before: Option<&User>, after: Option<&User>) {
    let (old, new) = (before.and_then(entry), after.and_then(entry));
    if old == new {
        return;
    }
    if let Some(old) = old {
        engine.remove(batch, old);
    }
    if let Some(new) = new {
        engine.put(batch, new, Vec::new());
    }
}

/// The users whose folded address is `address`'s, in id order, each read by `user` (the
/// engine's read of a record, cached or not).
pub(crate) fn users_by_email<E: Engine>(
    engine: &E,
    address: &str,
    user: impl Fn(UserId) -> StoreResult<Option<User>>,
) -> StoreResult<Vec<User>> {
    let folded = User::fold_email(address);
    let prefix = keys::users_with_email(&folded);
    let mut found = Vec::new();
    for entry in engine.keys_with(&prefix) {
        let entry = entry?;
        let id = UserId::from_bytes(keys::id_at(entry.as_ref(), prefix.len())?);
        // Absent only if the user was deleted since the scan read the entry.
        let Some(user) = user(id)? else { continue };
        if user.email.as_deref().is_some_and(|email| User::fold_email(email) == folded) {
            found.push(user);
        }
    }
    Ok(found)
}

/// The accounts both engines' upgrade tests write before removing the index as an older format
/// lacks it, and what the upgraded store must find.
#[cfg(test)]
pub(crate) mod upgrade_test {
    use kanect_core::backend::{UserStore, UserUpdate};
    use kanect_core::testing::user;
    use kanect_core::User;

    /// Two accounts that share an address (in other cases), one alone, one without.
    pub(crate) struct Accounts {
        alice: User,
        bob: User,
        carol: User,
        dave: User,
    }

    impl Accounts {
        pub(crate) fn new() -> Accounts {
            Accounts {
                alice: user("alice"),
                bob: user("bob"),
                carol: User { email: Some("ALICE@example.com".into()), ..user("carol") },
                dave: User { email: None, ..user("dave") },
            }
        }

        /// Inserts them (which writes three index entries).
        pub(crate) async fn insert(&self, store: &impl UserStore) {
            for person in [&self.alice, &self.bob, &self.carol, &self.dave] {
                store.insert_user(person, "hash").await.unwrap();
            }
        }

        /// Checks that `store` finds them by address, and keeps its index through a change.
        pub(crate) async fn assert_found(&self, store: &impl UserStore) {
            let mut shared = vec![self.alice.clone(), self.carol.clone()];
            shared.sort_by_key(|user| user.id);
            assert_eq!(store.users_by_email("alice@EXAMPLE.com").await.unwrap(), shared);
            assert_eq!(store.users_by_email("bob@example.com").await.unwrap(), std::slice::from_ref(&self.bob));
            store.update_user(self.carol.id, UserUpdate::Email(None)).await.unwrap();
            assert_eq!(store.users_by_email("alice@example.com").await.unwrap(), std::slice::from_ref(&self.alice));
        }
    }
}
