//! Message retention: with [`ChatConfig::message_retention`](crate::ChatConfig::message_retention)
//! set, a message older than that (by its `sent_at`) is deleted, by passes the engine runs in
//! the background (one at start, then at most an hour apart) and by [`Chat::expire_messages`].
//!
//! **Deleted as an administrator deletes.** An expired message goes the way of
//! [`Chat::admin_delete_message`]: it stays as a tombstone with its seq (history stays
//! gap-free, receipts and cursors stay meaningful), its body is cleared, `deleted` is set, and
//! every member's devices get a `delete` event, here and on other nodes. Clients need nothing
//! new, and retention needs nothing of a store beyond the traits every backend already keeps
//! (paging conversations, history oldest first, `replace_message`): it works on all of them.
//! Expiry goes by `sent_at`, not by the last edit: a message is as old as its place in the
//! conversation.
//!
//! **Bounded passes.** A pass walks the conversations a page at a time and, in each, the history
//! from where the last pass stopped (its *cursor*: every message up to that seq is expired),
//! oldest first, a page at a time, until the first message that has not expired. So a pass
//! reads what expired since the last one, plus one message per conversation (the first read of
//! a conversation asks for one message, since most conversations have nothing to expire), and
//! never holds more than a page in memory. Messages are in seq order, and `sent_at` almost
//! always follows it (stamped just before the store assigns the seq); a message stamped
//! earlier than one before it (two sends racing, or clocks of several nodes apart) is expired
//! with that one, late by at most the difference.
//!
//! **Cursors live in memory**, one seq per conversation that had something expire. After a
//! restart the first pass reads each conversation's expired messages once more from seq 1, in
//! pages; the ones already deleted (by retention or by anyone) are skipped, neither written
//! nor announced again, and from then on passes start at the cursors again. That costs one
//! read of the old tombstones per start, in exchange for no new store records.
//!
//! **One pass at a time** per engine: a pass holds the cursors' lock throughout, and a call
//! during the background pass waits for it. Several nodes on one store each run their own
//! passes (give them all the same setting); two passes at once may both delete a message, which
//! leaves the same tombstone and announces the same `delete` twice, as two administrators
//! deleting it at once would.
//!
//! **Announcements** are one `delete` event per message, as for an administrator's delete. A
//! first pass over a long history can delete more messages than a device's queue holds
//! ([`ChatConfig::device_queue`](crate::ChatConfig::device_queue)): that device is told to
//! resync, as any device that falls behind is, and re-reads history (where the messages are
//! tombstones). The background pass holds the engine only while it works on one conversation,
//! so an application that drops its last handle does not wait for a long pass to end.
//!
//! **Not audited.** The audit log records what an administrator did: its entries name the
//! acting account, and the admin app shows that account. A retention pass has no such actor
//! (the operator's setting is the standing decision), and a made-up one would read as a deleted
//! account. A background pass that deleted anything logs how many and its cutoff (`tracing`,
//! info); [`Chat::expire_messages`] returns the count to its caller.

use crate::chat::{Chat, WeakChat};
use crate::error::{Error, Invalid, Result};
use crate::id::{ConversationId, Seq};
use crate::model::{Conversation, Timestamp};
use crate::store::HistoryPage;
use std::collections::HashMap;
use std::time::Duration;

/// Conversations, and messages of one conversation, read at a time.
const PAGE: usize = 200;

/// The longest time between two background passes.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// The shortest time between two background passes (for a retention shorter than this).
const MIN_INTERVAL: Duration = Duration::from_secs(1);

impl Chat {
    /// Runs a retention pass now: deletes every message that, at `now`, is older than
    /// [`ChatConfig::message_retention`](crate::ChatConfig::message_retention) (one exactly that
    /// old stays), as [`Chat::admin_delete_message`] does but without an audit entry, and tells
    /// members' devices. Returns how many it deleted; messages deleted before are not counted
    /// (nor announced) again. Does nothing without a retention setting. The engine runs passes
    /// by itself (see the `retention` module); this is for an application that wants one at a
    /// time of its choosing, or to pass its own clock. Trusted, like [`Chat::create_admin`]: the
    /// application decides who may cause it.
    ///
    /// # Errors
    /// `unavailable` if the store fails; what was deleted before the failure stays deleted,
    /// and the next pass goes on from there.
    pub async fn expire_messages(&self, now: Timestamp) -> Result<u64> {
        let Some(retention) = self.config().message_retention else { return Ok(0) };
        let cursors = self.retention_cursors().clone();
        let mut cursors = cursors.lock().await;
        let engine = self.clone();
        pass(|| Some(engine.clone()), &mut cursors, cutoff(now, retention)).await
    }
}

/// Runs a pass at once and then every [`pass_interval`], while the engine lives and has a
/// retention setting. A pass that fails is logged; the next one goes on where it stopped.
pub(crate) async fn expire_periodically(weak: WeakChat) {
    let (retention, cursors) = match weak.upgrade() {
        Some(chat) => match chat.config().message_retention {
            Some(retention) => (retention, chat.retention_cursors().clone()),
            None => return,
        },
        None => return,
    };
    let mut ticker = tokio::time::interval(pass_interval(retention));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(now) = weak.upgrade().map(|chat| chat.now()) else { return };
        let mut cursors = cursors.lock().await;
        let cutoff = cutoff(now, retention);
        match pass(|| weak.upgrade(), &mut cursors, cutoff).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, cutoff = cutoff.0, "message retention deleted messages"),
            Err(error) => tracing::warn!(%error, "message retention pass failed; the next one goes on from here"),
        }
    }
}

/// How often the background passes run: as often as the retention itself, at most an hour
/// apart, so that a message outlives its retention by at most that (and a pass's own time).
fn pass_interval(retention: Duration) -> Duration {
    retention.clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Messages sent before this have expired at `now`.
fn cutoff(now: Timestamp, retention: Duration) -> Timestamp {
    let millis = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    Timestamp(now.0.saturating_sub(millis))
}

/// One pass over every conversation, through `engine` (which answers None once the engine is
/// gone: the pass then stops). Returns how many messages it deleted.
async fn pass(
    engine: impl Fn() -> Option<Chat>,
    cursors: &mut HashMap<ConversationId, Seq>,
    cutoff: Timestamp,
) -> Result<u64> {
    let mut expired = 0;
    let mut after = None;
    loop {
        let Some(chat) = engine() else { return Ok(expired) };
        let conversations = chat.store().conversations(after, PAGE).await?;
        drop(chat);
        for conversation in &conversations {
            let Some(chat) = engine() else { return Ok(expired) };
            let mut cursor = cursors.get(&conversation.id).copied().unwrap_or(Seq::ZERO);
            let deleted = chat.expire_in(conversation, cutoff, &mut cursor).await;
            if cursor > Seq::ZERO {
                cursors.insert(conversation.id, cursor);
            }
            expired += deleted?;
        }
        match conversations.last() {
            Some(last) if conversations.len() == PAGE => after = Some(last.id),
            _ => return Ok(expired),
        }
    }
}

impl Chat {
    /// Deletes the messages of `conversation` after `cursor` sent before `cutoff`, up to the
    /// first one that is not, moving `cursor` past each. Returns how many it deleted.
    async fn expire_in(&self, conversation: &Conversation, cutoff: Timestamp, cursor: &mut Seq) -> Result<u64> {
        let mut expired = 0;
        let mut limit = 1;
        loop {
            let page = self.store().history(conversation.id, HistoryPage::After(*cursor), limit).await?;
            let read = page.len();
            for message in page {
                if message.sent_at >= cutoff {
                    return Ok(expired);
                }
                let seq = message.seq;
                if !message.deleted {
                    match self.erase(message, conversation.members.clone()).await {
                        Ok(_) => expired += 1,
                        // Its sender or an administrator deleted it meanwhile: gone all the same.
                        Err(Error::Invalid { reason: Invalid::Deleted, .. }) => {}
                        Err(error) => return Err(error),
                    }
                }
                *cursor = seq;
            }
            if read < limit {
                return Ok(expired);
            }
            limit = PAGE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_now_less_the_retention_and_never_before_the_epoch() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(cutoff(Timestamp(100 * 86_400_000), day), Timestamp(99 * 86_400_000));
        assert_eq!(cutoff(Timestamp(5), day), Timestamp(0));
        assert_eq!(cutoff(Timestamp(u64::MAX), Duration::MAX), Timestamp(0));
    }

    #[test]
    fn passes_run_as_often_as_the_retention_but_at_most_an_hour_apart() {
        assert_eq!(pass_interval(Duration::from_secs(30 * 24 * 3600)), MAX_INTERVAL);
        assert_eq!(pass_interval(Duration::from_secs(600)), Duration::from_secs(600));
        assert_eq!(pass_interval(Duration::ZERO), MIN_INTERVAL);
    }
}
