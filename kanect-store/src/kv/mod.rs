//! What the two embedded engines, sled and fjall, store alike: the key spaces and their
//! encoding, the binary message records and the JSON of the others. One definition, so a record means the same bytes
//! in both, and a change to the layout is made once. Also the in-memory filter of stored
//! message ids that spares both an engine read per append, and how both recover from a failed
//! write: the store's health ([`alarm`]) and the thread that reopens a failed store
//! ([`recovery`]). And the record spaces simple enough to be written once for both engines,
//! over [`engine::Engine`] (`account_tokens`, `invites`, `notifications`, `sessions`), and the users' address index (`email_index`).

pub(crate) mod account_tokens;
pub(crate) mod alarm;
pub(crate) mod email_index;
pub(crate) mod engine;
pub(crate) mod id_filter;
pub(crate) mod invites;
pub(crate) mod keys;
pub(crate) mod message_codec;
pub(crate) mod notifications;
pub(crate) mod records;
pub(crate) mod recovery;
pub(crate) mod sessions;
pub(crate) mod temporary;
