//! Web Push as the engine sees it: the [`PushSender`] trait a transport implements (the
//! `kanect-push` crate does: VAPID, RFC 8291 encryption, a guarded HTTP client), and the
//! engine's side: whom to push what, and when not to.
//!
//! After a new message is routed, each other member is considered once, by the node that
//! stored the message, after [`ChatConfig::push_grace`](crate::ChatConfig::push_grace):
//!
//! 1. [`should_notify`] through [`Channel::Interrupting`] (levels, mutes, do-not-disturb);
//! 2. **not while reading**: if the member's read receipt in the conversation has reached the
//!    message by then, a device of theirs was showing the conversation (a device that shows a
//!    conversation while visible marks what arrives read at once, as the web app does), and
//!    nothing is pushed. The receipt is in the store, so this holds whichever node the
//!    reading device is connected to;
//! 3. each of the member's subscriptions whose session still stands gets the notice (one whose
//!    session has ended is deleted instead: a shared computer stops hearing of a user who
//!    logged out); one the push service answers "gone" for (404, 410) is deleted.
//!
//! Messages wait for their grace in the node's push queue, worked by a task of its own, never
//! on the send's path: a slow push service delays no acknowledgement. A message none of whose
//! recipients may have a subscription is not queued at all (see `push_queue`: how the node
//! knows without reading the store).

use super::push_queue::PendingPush;
use super::settings::{should_notify, Channel};
use super::PushSubscription;
use crate::bus::BusMessage;
use crate::chat::{Caller, Chat};
use crate::error::{AuthFailure, Denied, Error, Invalid, Result};
use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::Message;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The longest push endpoint URL taken, in bytes (browsers' are a few hundred).
pub const PUSH_ENDPOINT_MAX_BYTES: usize = 2048;

/// How many push subscriptions one account keeps: past it, making one deletes the account's
/// oldest (a browser whose data was cleared leaves a dead one behind).
pub const PUSH_SUBSCRIPTIONS_MAX: usize = 20;

/// The longest message preview a push carries, in characters.
pub const PUSH_PREVIEW_CHARS: usize = 160;

/// What a push tells a device: enough to show a notification and open the conversation.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PushNotice {
    /// Where.
    pub conversation: ConversationId,
    /// The group's name; None for a direct conversation.
    pub group: Option<String>,
    /// The message.
    pub message: MessageId,
    /// Its seq.
    pub seq: Seq,
    /// Who sent it.
    pub sender: UserId,
    /// The sender's display name, or username.
    pub sender_name: String,
    /// The start of the body ([`PUSH_PREVIEW_CHARS`] at most, with `…` if cut); empty for a
    /// message of files only.
    pub preview: String,
}

impl PushNotice {
    fn new(message: &Message, group: Option<String>, sender_name: String) -> Self {
        let mut preview: String = message.body.chars().take(PUSH_PREVIEW_CHARS).collect();
        if message.body.chars().nth(PUSH_PREVIEW_CHARS).is_some() {
            preview.push('…');
        }
        PushNotice {
            conversation: message.conversation,
            group,
            message: message.id,
            seq: message.seq,
            sender: message.sender,
            sender_name,
            preview,
        }
    }
}

/// Why a [`PushSender`] refused a subscription.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum PushRefused {
    /// The endpoint is not an `https` URL, or resolves to an address the server must not
    /// call (private, loopback, link-local, unspecified), or does not resolve.
    Endpoint,
    /// The keys are not base64url, not of their length, or the public key is not on P-256.
    Keys,
}

/// What became of one push.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum PushOutcome {
    /// The push service took it.
    Sent,
    /// The push service says the subscription is gone (404, 410): delete it.
    Gone,
    /// It failed otherwise (network, a refusal, an endpoint that now resolves to a forbidden
    /// address); the subscription stays. The text is for logs.
    Failed(String),
}

/// Sends Web Push messages: the engine decides whom, an implementation knows how.
#[async_trait]
pub trait PushSender: Send + Sync + std::fmt::Debug + 'static {
    /// The server's VAPID public key, as browsers take it (`applicationServerKey`: the
    /// uncompressed P-256 point, base64url without padding).
    fn public_key(&self) -> String;

    /// Checks a new subscription's endpoint and keys before it is stored.
    async fn check(&self, endpoint: &str, p256dh: &str, auth: &str) -> std::result::Result<(), PushRefused>;

    /// Encrypts `notice` for `subscription` and sends it.
    async fn send(&self, subscription: &PushSubscription, notice: &PushNotice) -> PushOutcome;
}

impl Chat {
    /// The VAPID public key browsers subscribe with.
    ///
    /// # Errors
    /// `push_disabled` if the engine has no [`PushSender`].
    pub fn push_public_key(&self) -> Result<String> {
        Ok(self.push_sender()?.public_key())
    }

    /// Stores the caller's device's push subscription (as the browser's `PushSubscription`
    /// gives it), replacing one of the same endpoint. Tied to the caller's session: it ends
    /// with it. An account keeps [`PUSH_SUBSCRIPTIONS_MAX`]: past it, its oldest goes.
    ///
    /// # Errors
    /// `push_disabled`; `invalid_session` for a caller without a session ([`Chat::act_as`]);
    /// `too_long` (field `endpoint`) past [`PUSH_ENDPOINT_MAX_BYTES`]; `bad_push_endpoint`
    /// for an endpoint that is not `https` or resolves to a private, loopback, link-local or
    /// unspecified address (unless the sender allows them); `bad_push_keys` for keys that are
    /// not base64url, of the wrong length, or not a point on P-256; `unavailable`.
    pub async fn subscribe_push(&self, caller: &Caller, endpoint: &str, p256dh: &str, auth: &str) -> Result<()> {
        let sender = self.push_sender()?;
        let session = caller.session().ok_or(Error::Unauthorized(AuthFailure::InvalidSession))?;
        if endpoint.len() > PUSH_ENDPOINT_MAX_BYTES {
            return Err(Error::invalid("endpoint", Invalid::TooLong));
        }
        sender.check(endpoint, p256dh, auth).await.map_err(|refused| match refused {
            PushRefused::Endpoint => Error::invalid("endpoint", Invalid::PushEndpoint),
            PushRefused::Keys => Error::invalid("keys", Invalid::PushKeys),
        })?;
        let subscription = PushSubscription {
            user: caller.user(),
            session,
            endpoint: endpoint.to_string(),
            p256dh: p256dh.to_string(),
            auth: auth.to_string(),
            created_at: self.now(),
        };
        self.store().insert_push_subscription(&subscription).await?;
        if let Some(queue) = self.push_queue() {
            queue.subscribed(caller.user());
        }
        self.publish(BusMessage::PushSubscribed { user: caller.user() }).await;
        let mut all = self.store().push_subscriptions_of(caller.user()).await?;
        if all.len() > PUSH_SUBSCRIPTIONS_MAX {
            all.sort_by_key(|s| s.created_at);
            for old in &all[..all.len() - PUSH_SUBSCRIPTIONS_MAX] {
                self.store().delete_push_subscription(old.user, &old.endpoint).await?;
            }
        }
        Ok(())
    }

    /// Deletes the caller's push subscription at `endpoint`. Returns false if there was none.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn unsubscribe_push(&self, caller: &Caller, endpoint: &str) -> Result<bool> {
        Ok(self.store().delete_push_subscription(caller.user(), endpoint).await?)
    }

    fn push_sender(&self) -> Result<&std::sync::Arc<dyn PushSender>> {
        self.push().ok_or(Error::Forbidden(Denied::PushDisabled))
    }

    /// Queues the pushes of a new message to `members` (see the module docs): nothing at all
    /// when none of them may have a push subscription, which is the common case and costs no
    /// store read.
    pub(crate) fn push_message(&self, message: &Message, group: Option<String>, members: &[UserId]) {
        let Some(queue) = self.push_queue() else { return };
        if message.event.is_some() {
            return;
        }
        let recipients = queue.audience(members.iter().copied().filter(|member| *member != message.sender));
        if recipients.is_empty() {
            return;
        }
        let due = tokio::time::Instant::now() + self.config().push_grace;
        if !queue.enqueue(PendingPush { due, message: message.clone(), group, recipients }) {
            self.metrics().pushes_dropped.increment(1);
        }
    }

    /// Notes that `user` made a push subscription on another node (see `push_queue`).
    pub(crate) fn heard_push_subscription(&self, user: UserId) {
        if let Some(queue) = self.push_queue() {
            queue.subscribed(user);
        }
    }

    /// Pushes `message` to those of `recipients` it should reach, once its grace has passed.
    pub(crate) async fn push_to_members(
        &self,
        message: &Message,
        group: Option<String>,
        recipients: &[UserId],
    ) -> Result<()> {
        let (Some(sender), Some(queue)) = (self.push(), self.push_queue()) else { return Ok(()) };
        let now = self.now();
        let mut receipts = None;
        let mut notice = None;
        for &user in recipients {
            let epoch = queue.epoch();
            let subscriptions = self.store().push_subscriptions_of(user).await?;
            queue.found(user, !subscriptions.is_empty(), epoch);
            if subscriptions.is_empty() {
                continue;
            }
            if receipts.is_none() {
                receipts = Some(self.store().receipts(message.conversation).await?);
            }
            let read = receipts.iter().flatten().any(|receipt| receipt.user == user && receipt.read >= message.seq);
            if read {
                continue;
            }
            let settings = self.notification_settings_of(user).await?;
            if !should_notify(&settings, user, message, now, Channel::Interrupting) {
                continue;
            }
            if notice.is_none() {
                let name = match self.store().user(message.sender).await? {
                    Some(sender) => sender.display_name.unwrap_or(sender.username),
                    None => String::new(),
                };
                notice = Some(PushNotice::new(message, group.clone(), name));
            }
            let Some(notice) = &notice else { continue };
            for subscription in subscriptions {
                let standing = match self.store().session(&subscription.session).await? {
                    Some(session) => session.user == user && session.expires_at > now,
                    None => false,
                };
                if !standing {
                    self.store().delete_push_subscription(user, &subscription.endpoint).await?;
                    continue;
                }
                match sender.send(&subscription, notice).await {
                    PushOutcome::Sent => {}
                    PushOutcome::Gone => {
                        self.store().delete_push_subscription(user, &subscription.endpoint).await?;
                    }
                    PushOutcome::Failed(reason) => tracing::warn!(%reason, "a push failed"),
                }
            }
        }
        Ok(())
    }
}
