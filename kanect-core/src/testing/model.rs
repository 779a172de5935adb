//! The model test: random operation sequences applied to a store and to a plain in-memory
//! model of it, every answer compared; for a store that persists, with restarts mixed in (the
//! store closed and opened again, about one operation in ten, as sled's own
//! `prop_tree_matches_btreemap` does), after each of which everything the model holds is read
//! back and compared.
//!
//! The operations cover every domain whose writes are durable: users and password hashes,
//! sessions, conversations and memberships, messages and receipts, the audit log (and the
//! counts). Log-in attempt records are left out: they need not survive a restart.

use crate::error::{Conflict, StoreError};
use crate::id::{AuditId, ConversationId, Seq, UserId};
use crate::model::{
    Appended, AuditEntry, Conversation, ConversationKind, Message, ReceiptKind, Role, Session, Timestamp, TokenHash,
    User,
};
use crate::store::{HistoryPage, Store, UserQuery, UserUpdate};
use crate::testing::{created, new_message, user};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

/// The usernames the model signs up, some equal case-insensitively.
const NAMES: [&str; 5] = ["alice", "Alice", "bob", "BOB", "carol"];

/// One step of the model test. A `pick` chooses among what the model holds (modulo its count).
#[derive(Clone, Debug)]
enum Op {
    Append {
        conversation: usize,
        sender: usize,
        client: u8,
        body: u16,
    },
    Edit {
        pick: usize,
        body: u16,
    },
    Delete {
        pick: usize,
    },
    Receipt {
        conversation: usize,
        user: usize,
        read: bool,
        seq: u64,
    },
    History {
        conversation: usize,
        kind: u8,
        seq: u64,
        limit: usize,
    },
    InsertUser {
        name: usize,
    },
    UpdateUser {
        pick: usize,
        field: u8,
        value: u16,
    },
    DeleteUser {
        pick: usize,
    },
    SetPassword {
        pick: usize,
        hash: u16,
    },
    InsertSession {
        pick: usize,
    },
    DeleteSession {
        pick: usize,
    },
    DeleteSessionsOf {
        pick: usize,
    },
    InsertConversation {
        conversation: usize,
        members: u8,
    },
    AddMember {
        conversation: usize,
        user: usize,
    },
    RemoveMember {
        conversation: usize,
        user: usize,
    },
    SetDetails {
        conversation: usize,
        name: Option<u8>,
        owner: Option<usize>,
    },
    Audit {
        action: u8,
    },
    /// Close the store and open it again (nothing to do for a store that does not persist).
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..2usize, 0..3usize, 0..6u8, any::<u16>())
            .prop_map(|(conversation, sender, client, body)| Op::Append { conversation, sender, client, body }),
        2 => (any::<usize>(), any::<u16>()).prop_map(|(pick, body)| Op::Edit { pick, body }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        2 => (0..2usize, 0..3usize, any::<bool>(), 0..20u64)
            .prop_map(|(conversation, user, read, seq)| Op::Receipt { conversation, user, read, seq }),
        4 => (0..2usize, 0..3u8, 0..20u64, 1..8usize)
            .prop_map(|(conversation, kind, seq, limit)| Op::History { conversation, kind, seq, limit }),
        2 => (0..NAMES.len()).prop_map(|name| Op::InsertUser { name }),
        2 => (any::<usize>(), 0..7u8, any::<u16>()).prop_map(|(pick, field, value)| Op::UpdateUser { pick, field, value }),
        1 => any::<usize>().prop_map(|pick| Op::DeleteUser { pick }),
        1 => (any::<usize>(), any::<u16>()).prop_map(|(pick, hash)| Op::SetPassword { pick, hash }),
        2 => any::<usize>().prop_map(|pick| Op::InsertSession { pick }),
        1 => any::<usize>().prop_map(|pick| Op::DeleteSession { pick }),
        1 => any::<usize>().prop_map(|pick| Op::DeleteSessionsOf { pick }),
        2 => (0..2usize, 1..8u8).prop_map(|(conversation, members)| Op::InsertConversation { conversation, members }),
        2 => (0..2usize, 0..3usize).prop_map(|(conversation, user)| Op::AddMember { conversation, user }),
        1 => (0..2usize, 0..3usize).prop_map(|(conversation, user)| Op::RemoveMember { conversation, user }),
        1 => (0..2usize, proptest::option::of(any::<u8>()), proptest::option::of(0..3usize))
            .prop_map(|(conversation, name, owner)| Op::SetDetails { conversation, name, owner }),
        1 => any::<u8>().prop_map(|action| Op::Audit { action }),
        4 => Just(Op::Restart),
    ]
}

/// Applies random operation sequences to fresh stores made by `make` and to a plain model,
/// comparing every answer. Runs 24 sequences of up to 64 operations. For a store that does not
/// persist ([`MemoryStore`](crate::MemoryStore)); see [`model_test_across_restarts`].
///
/// # Panics
/// When the store and the model differ, with the shrunk sequence of operations.
pub fn model_test<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    run_cases(make, None::<&fn(S) -> std::future::Ready<S>>);
}

/// [`model_test`] with restarts: `reopen` closes a store and opens the same one again (sled:
/// its directory; PostgreSQL: its schema), as a restart of the process would. About one
/// operation in ten is a restart, after which everything the model holds is read back.
///
/// `reopen` must really close the store before opening it again (every handle dropped, every
/// thread of it stopped), or the reopen tests nothing but a cache.
///
/// # Panics
/// When the store and the model differ, with the shrunk sequence of operations.
pub fn model_test_across_restarts<S, F, Fut, R, RFut>(make: F, reopen: R)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    R: Fn(S) -> RFut,
    RFut: Future<Output = S>,
{
    run_cases(make, Some(&reopen));
}

fn run_cases<S, F, Fut, R, RFut>(make: F, reopen: Option<&R>)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    R: Fn(S) -> RFut,
    RFut: Future<Output = S>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = proptest::test_runner::Config { cases: 24, failure_persistence: None, ..Default::default() };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), 1..64), |ops| {
        runtime.block_on(async {
            let mut store = make().await;
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Restart => {
                        let Some(reopen) = reopen else { continue };
                        store = reopen(store).await;
                        model.check(&store).await;
                    }
                    op => model.apply(&store, op).await,
                }
            }
            model.check(&store).await;
        });
        Ok(())
    });
    if let Err(error) = result {
        panic!("store diverged from the model: {error}");
    }
}

/// What the store should hold, kept the simplest way. The ids it names by index are new ones
/// (their `Default`).
#[derive(Default)]
struct Model {
    /// The conversations the operations name by index (records may or may not exist).
    conversation_ids: [ConversationId; 2],
    /// The users the message, receipt and membership operations name by index (as members and
    /// senders; they need no account).
    participants: [UserId; 3],
    messages: HashMap<ConversationId, Vec<Message>>,
    clients: HashMap<(ConversationId, UserId, String), Seq>,
    receipts: HashMap<(ConversationId, UserId), (Seq, Seq)>,
    /// Accounts, with their password hashes.
    users: BTreeMap<UserId, (User, String)>,
    /// Accounts deleted: they must stay gone.
    deleted_users: Vec<UserId>,
    sessions: BTreeMap<TokenHash, Session>,
    /// Sessions deleted, alone or with their user: they must stay gone.
    deleted_sessions: Vec<TokenHash>,
    /// Session tokens handed out so far (each session's hash is new).
    tokens: u32,
    conversations: BTreeMap<ConversationId, Conversation>,
    audit: Vec<AuditEntry>,
}

impl Model {
    /// Applies `op` to the store and to the model, and compares the store's answer with the
    /// model's.
    async fn apply<S: Store>(&mut self, store: &S, op: Op) {
        match op {
            Op::Append { conversation, sender, client, body } => {
                self.append(store, conversation, sender, client, body).await
            }
            // A deleted message stays as it is: the store refuses to replace it.
            Op::Edit { pick, body } => {
                let Some(message) = self.pick_message(pick) else { return };
                let mut edited = message.clone();
                edited.body = format!("edited {body}");
                edited.edited_at = Some(Timestamp(body as u64));
                let replaced = store.replace_message(&edited).await.unwrap();
                assert_eq!(replaced, !message.deleted, "replaced exactly when not deleted");
                if replaced {
                    *message = edited;
                }
            }
            Op::Delete { pick } => {
                let Some(message) = self.pick_message(pick) else { return };
                let mut deleted = message.clone();
                deleted.body.clear();
                deleted.deleted = true;
                let replaced = store.replace_message(&deleted).await.unwrap();
                assert_eq!(replaced, !message.deleted, "replaced exactly when not deleted");
                if replaced {
                    *message = deleted;
                }
            }
            Op::Receipt { conversation, user, read, seq } => self.receipt(store, conversation, user, read, seq).await,
            Op::History { conversation, kind, seq, limit } => self.history(store, conversation, kind, seq, limit).await,
            Op::InsertUser { name } => self.insert_user(store, NAMES[name]).await,
            Op::UpdateUser { pick, field, value } => {
                let update = match field {
                    0 => UserUpdate::Role(if value % 2 == 0 { Role::User } else { Role::Admin }),
                    1 => UserUpdate::Disabled(value % 2 == 1),
                    2 => UserUpdate::LastSeen(Timestamp(value.into())),
                    3 => UserUpdate::DisplayName((value % 3 != 0).then(|| format!("Name {value}"))),
                    // Few addresses, so that verifications often name the current one.
                    4 => UserUpdate::Email((value % 5 != 0).then(|| format!("u{}@example.com", value % 3))),
                    5 => UserUpdate::EmailVerified(format!("u{}@example.com", value % 3)),
                    _ => UserUpdate::DigestsOff(value % 2 == 1),
                };
                let id = self.pick_user(pick);
                let expected = self.users.get_mut(&id).map(|(user, _)| {
                    update.clone().apply(user);
                    user.clone()
                });
                assert_eq!(store.update_user(id, update).await.unwrap(), expected);
            }
            Op::DeleteUser { pick } => {
                let id = self.pick_user(pick);
                let existed = self.users.remove(&id).is_some();
                assert_eq!(store.delete_user(id).await.unwrap(), existed);
                self.deleted_users.push(id);
                self.forget_sessions_of(id);
            }
            Op::SetPassword { pick, hash } => {
                let id = self.pick_user(pick);
                let hash = format!("hash {hash}");
                let exists = self.users.get_mut(&id).map(|(_, stored)| *stored = hash.clone()).is_some();
                assert_eq!(store.set_password_hash(id, &hash).await.unwrap(), exists);
            }
            Op::InsertSession { pick } => self.insert_session(store, pick).await,
            Op::DeleteSession { pick } => {
                let token_hash = match self.sessions.keys().nth(pick % self.sessions.len().max(1)) {
                    Some(hash) => *hash,
                    None => TokenHash([0xff; 32]),
                };
                let existed = self.sessions.remove(&token_hash).is_some();
                assert_eq!(store.delete_session(&token_hash).await.unwrap(), existed);
                self.deleted_sessions.push(token_hash);
            }
            Op::DeleteSessionsOf { pick } => {
                let id = self.pick_user(pick);
                let count = self.forget_sessions_of(id);
                assert_eq!(store.delete_sessions_of(id).await.unwrap(), count);
            }
            Op::InsertConversation { conversation, members } => {
                self.insert_conversation(store, conversation, members).await
            }
            Op::AddMember { conversation, user } => self.add_member(store, conversation, user).await,
            Op::RemoveMember { conversation, user } => {
                let (id, user) = (self.conversation_ids[conversation], self.participants[user]);
                let expected = self.conversations.get_mut(&id).map(|record| {
                    record.members.retain(|member| *member != user);
                    record.clone()
                });
                assert_eq!(store.remove_member(id, user).await.unwrap(), expected);
            }
            Op::SetDetails { conversation, name, owner } => {
                let id = self.conversation_ids[conversation];
                let (name, owner) = (name.map(|n| format!("name {n}")), owner.map(|i| self.participants[i]));
                let expected = self.conversations.get_mut(&id).map(|record| {
                    (record.name, record.owner) = (name.clone(), owner);
                    record.clone()
                });
                assert_eq!(store.set_conversation_details(id, name, owner).await.unwrap(), expected);
            }
            Op::Audit { action } => {
                let entry = AuditEntry {
                    id: AuditId::new(),
                    at: Timestamp(action.into()),
                    actor: self.participants[0],
                    action: format!("action.{action}"),
                    target: format!("target {action}"),
                    detail: (action % 2 == 0).then(|| "detail".to_string()),
                };
                store.append_audit(&entry).await.unwrap();
                self.audit.push(entry);
            }
            Op::Restart => unreachable!("restarts are the caller's"),
        }
    }

    async fn append<S: Store>(&mut self, store: &S, conversation: usize, sender: usize, client: u8, body: u16) {
        let (c, s) = (self.conversation_ids[conversation], self.participants[sender]);
        let client_id = format!("client-{client}");
        let appended = store.append_message(new_message(c, s, &client_id, &format!("body {body}"))).await.unwrap();
        let list = self.messages.entry(c).or_default();
        match self.clients.get(&(c, s, client_id.clone())) {
            Some(seq) => assert_eq!(appended, Appended::Duplicate(list[seq.0 as usize - 1].clone())),
            None => {
                let message = created(appended);
                assert_eq!(message.seq, Seq(list.len() as u64 + 1));
                self.clients.insert((c, s, client_id), message.seq);
                list.push(message);
            }
        }
    }

    async fn receipt<S: Store>(&mut self, store: &S, conversation: usize, user: usize, read: bool, seq: u64) {
        let (c, u) = (self.conversation_ids[conversation], self.participants[user]);
        let kind = if read { ReceiptKind::Read } else { ReceiptKind::Delivered };
        let moved = store.advance_receipt(c, u, kind, Seq(seq)).await.unwrap();
        let (delivered, was_read) = self.receipts.get(&(c, u)).copied().unwrap_or_default();
        let new_read = if read { was_read.max(Seq(seq)) } else { was_read };
        let new_delivered = delivered.max(Seq(seq)).max(new_read);
        let changed = (new_delivered, new_read) != (delivered, was_read);
        self.receipts.insert((c, u), (new_delivered, new_read));
        assert_eq!(moved.map(|r| (r.delivered, r.read)), changed.then_some((new_delivered, new_read)));
    }

    async fn history<S: Store>(&self, store: &S, conversation: usize, kind: u8, seq: u64, limit: usize) {
        let c = self.conversation_ids[conversation];
        let page = match kind {
            0 => HistoryPage::Latest,
            1 => HistoryPage::Before(Seq(seq)),
            _ => HistoryPage::After(Seq(seq)),
        };
        let got = store.history(c, page, limit).await.unwrap();
        let all = self.messages.get(&c).cloned().unwrap_or_default();
        let expected: Vec<Message> = match page {
            HistoryPage::Latest => all.iter().rev().take(limit).rev().cloned().collect(),
            HistoryPage::Before(s) => {
                let older: Vec<Message> = all.iter().filter(|m| m.seq < s).cloned().collect();
                older[older.len().saturating_sub(limit)..].to_vec()
            }
            HistoryPage::After(s) => all.iter().filter(|m| m.seq > s).take(limit).cloned().collect(),
        };
        assert_eq!(got, expected);
        assert_eq!(store.last_seq(c).await.unwrap(), Seq(all.len() as u64));
    }

    async fn insert_user<S: Store>(&mut self, store: &S, name: &str) {
        let record = user(name);
        let taken = self.users.values().any(|(other, _)| User::fold(&other.username) == User::fold(name));
        let inserted = store.insert_user(&record, "first hash").await;
        if taken {
            assert!(matches!(inserted, Err(StoreError::Conflict(Conflict::UsernameTaken))), "{inserted:?}");
        } else {
            inserted.unwrap();
            self.users.insert(record.id, (record, "first hash".to_string()));
        }
    }

    async fn insert_session<S: Store>(&mut self, store: &S, pick: usize) {
        let Some(&user) = self.users.keys().nth(pick % self.users.len().max(1)) else { return };
        self.tokens += 1;
        let mut token_hash = [0x5a; 32];
        token_hash[..4].copy_from_slice(&self.tokens.to_be_bytes());
        let at = Timestamp(self.tokens.into());
        let session = Session {
            token_hash: TokenHash(token_hash),
            user,
            created_at: at,
            expires_at: at,
            last_used: None,
            user_agent: None,
        };
        store.insert_session(&session).await.unwrap();
        self.sessions.insert(session.token_hash, session);
    }

    async fn insert_conversation<S: Store>(&mut self, store: &S, conversation: usize, members: u8) {
        let id = self.conversation_ids[conversation];
        let mut members: Vec<UserId> =
            (0..3).filter(|bit| members & (1 << bit) != 0).map(|bit| self.participants[bit]).collect();
        members.sort();
        let record = Conversation {
            id,
            kind: ConversationKind::Group,
            name: Some(format!("group {conversation}")),
            owner: members.first().copied(),
            members,
            created_at: Timestamp(1_700_000_000_000),
        };
        let exists = self.conversations.contains_key(&id);
        assert_eq!(store.insert_conversation(&record).await.unwrap(), !exists);
        self.conversations.entry(id).or_insert(record);
    }

    async fn add_member<S: Store>(&mut self, store: &S, conversation: usize, user: usize) {
        let (id, user) = (self.conversation_ids[conversation], self.participants[user]);
        let added = store.add_member(id, user).await;
        match self.conversations.get_mut(&id) {
            None => assert_eq!(added.unwrap(), None),
            Some(record) if record.has_member(user) => {
                assert!(matches!(added, Err(StoreError::Conflict(Conflict::AlreadyMember))), "{added:?}")
            }
            Some(record) => {
                record.members.push(user);
                record.members.sort();
                assert_eq!(added.unwrap().as_ref(), Some(&*record));
            }
        }
    }

    /// Reads back everything the model holds, and what it no longer holds, and compares.
    async fn check<S: Store>(&self, store: &S) {
        for (c, list) in &self.messages {
            for message in list {
                assert_eq!(store.message(message.id).await.unwrap().as_ref(), Some(message));
            }
            assert_eq!(store.last_seq(*c).await.unwrap(), Seq(list.len() as u64));
        }
        for c in self.conversation_ids {
            let mut receipts = store.receipts(c).await.unwrap();
            receipts.sort_by_key(|r| r.user);
            let mut expected: Vec<_> =
                self.receipts.iter().filter(|((rc, _), _)| *rc == c).map(|((_, u), v)| (*u, *v)).collect();
            expected.sort();
            assert_eq!(receipts.iter().map(|r| (r.user, (r.delivered, r.read))).collect::<Vec<_>>(), expected);
            assert_eq!(store.conversation(c).await.unwrap().as_ref(), self.conversations.get(&c));
        }
        self.check_accounts(store).await;
        let all = store.conversations(None, 10).await.unwrap();
        assert_eq!(all, self.conversations.values().cloned().collect::<Vec<_>>());
        for user in self.participants {
            let mut of = store.conversations_of(user).await.unwrap();
            of.sort();
            let expected: Vec<ConversationId> =
                self.conversations.values().filter(|c| c.has_member(user)).map(|c| c.id).collect();
            assert_eq!(of, expected, "the conversations of {user}");
        }
        let mut audit = self.audit.clone();
        audit.sort_by_key(|entry| std::cmp::Reverse(entry.id));
        assert_eq!(store.audit_log(None, 1000).await.unwrap(), audit);
        let stats = store.stats().await.unwrap();
        let messages = self.messages.values().map(|list| list.len() as u64).sum();
        assert_eq!(
            (stats.users, stats.conversations, stats.messages),
            (self.users.len() as u64, self.conversations.len() as u64, messages)
        );
    }

    async fn check_accounts<S: Store>(&self, store: &S) {
        for (user, hash) in self.users.values() {
            assert_eq!(store.user(user.id).await.unwrap().as_ref(), Some(user));
            assert_eq!(store.user_by_username(&user.username.to_uppercase()).await.unwrap().as_ref(), Some(user));
            assert_eq!(store.password_hash(user.id).await.unwrap().as_ref(), Some(hash));
        }
        let mut listed: Vec<&User> = self.users.values().map(|(user, _)| user).collect();
        listed.sort_by_key(|user| User::fold(&user.username));
        let page = store.users(&UserQuery { limit: 100, ..Default::default() }).await.unwrap();
        assert_eq!(page.iter().collect::<Vec<_>>(), listed);
        for id in &self.deleted_users {
            assert_eq!(store.user(*id).await.unwrap(), None);
            assert_eq!(store.password_hash(*id).await.unwrap(), None);
        }
        for session in self.sessions.values() {
            assert_eq!(store.session(&session.token_hash).await.unwrap().as_ref(), Some(session));
        }
        for token_hash in &self.deleted_sessions {
            assert_eq!(store.session(token_hash).await.unwrap(), None);
        }
    }

    /// One of the accounts, or (with none) an id that names no account.
    fn pick_user(&self, pick: usize) -> UserId {
        self.users.keys().nth(pick % self.users.len().max(1)).copied().unwrap_or_else(UserId::new)
    }

    /// Forgets `user`'s sessions, as deleting them or the user does; returns how many.
    fn forget_sessions_of(&mut self, user: UserId) -> u64 {
        let gone: Vec<TokenHash> =
            self.sessions.values().filter(|session| session.user == user).map(|session| session.token_hash).collect();
        for token_hash in &gone {
            self.sessions.remove(token_hash);
        }
        self.deleted_sessions.extend(&gone);
        gone.len() as u64
    }

    fn pick_message(&mut self, pick: usize) -> Option<&mut Message> {
        let total: usize = self.messages.values().map(Vec::len).sum();
        if total == 0 {
            return None;
        }
        let mut keys: Vec<ConversationId> = self.messages.keys().copied().collect();
        keys.sort();
        let mut index = pick % total;
        let key = keys.into_iter().find(|key| {
            let len = self.messages[key].len();
            if index < len {
                return true;
            }
            index -= len;
            false
        })?;
        self.messages.get_mut(&key)?.get_mut(index)
    }
}
