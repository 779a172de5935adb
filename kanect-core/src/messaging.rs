//! Messages: send (idempotent by client id), edit, delete, history, receipts, typing, and
//! subscribing a device.
//!
//! A send is validated, persisted with the conversation's next seq (the store makes it
//! durable before returning), acknowledged by returning, and routed to every device of every
//! member — the sender's other devices included.

use crate::chat::{Caller, Chat};
use crate::error::{Denied, Entity, Error, Invalid, Result};
use crate::event::Event;
use crate::id::{AttachmentId, ConversationId, MessageId, Seq};
use crate::model::{Appended, Conversation, Message, NewMessage, Receipt, ReceiptKind};
use crate::store::HistoryPage;
use crate::subscription::Subscription;
use crate::validate;

impl Chat {
    /// Sends a message. Returns once it is durable: the acknowledgement. A resend with the
    /// same `client_id` (per conversation and sender) returns the original and stores nothing.
    ///
    /// # Errors
    /// `invalid` body or client id (see [`validate::BODY_MAX_CHARS`]);
    /// `rate_limited` past `RateLimits::sends` (counted for every valid attempt, stored or
    /// not; nothing is stored past it); `conversation_not_found` (also for a conversation the
    /// caller is not in); `recipient_unavailable` in a direct conversation whose other member
    /// is disabled or deleted (nothing is stored); `unavailable`: the outcome is unknown (the
    /// store may have kept the message before failing, see [`Store`](crate::Store)'s failure
    /// contract). Resend with the same client id: that returns the stored message (same id and
    /// seq) if it was stored, and stores it once if it was not.
    pub async fn send(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        client_id: &str,
        body: &str,
    ) -> Result<Message> {
        self.send_with_attachments(caller, conversation, client_id, body, &[]).await
    }

    /// Sends a message that carries files uploaded by the caller ([`Chat::upload`]), in the
    /// order given; with files, the body may be empty. As [`Chat::send_message`] otherwise.
    ///
    /// # Errors
    /// As [`Chat::send_message`].
    pub async fn send_with_attachments(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        client_id: &str,
        body: &str,
        attachments: &[AttachmentId],
    ) -> Result<Message> {
        self.send_message(caller, conversation, Outgoing { client_id, body, attachments, reply_to: None }).await
    }

    /// Sends a message with everything a message may carry: files, and the seq of the message
    /// it replies to. As [`Chat::send`] otherwise. The files are claimed for the message before
    /// it is stored (all or none): a resend with the same client id claims them again for the
    /// same message and returns the original. `@username`s of members in the body become its
    /// [`mentions`](Message::mentions) (see the `mentions` module).
    ///
    /// # Errors
    /// As [`Chat::send`], and: `too_long` or `repeated` (field `attachments`) for more than
    /// [`validate::ATTACHMENTS_MAX`] files or one twice; `attachment_not_found` for an id that
    /// is not an upload of the caller's; `attachment_in_use` for one another message carries;
    /// `attachments_disabled` without a blob store; `out_of_range` (field `reply_to`) for a
    /// reply to a seq that is not a message of the conversation; `message_deleted` (field
    /// `reply_to`) for a reply to a deleted message; `too_long` (field `body`) for more than
    /// [`validate::MENTIONS_MAX`] different `@name`s; `email_unverified` when the server requires a
    /// verified address (see [`Verification::Required`](crate::Verification::Required)). Nothing
    /// is stored after an error.
    pub async fn send_message(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        outgoing: Outgoing<'_>,
    ) -> Result<Message> {
        let Outgoing { client_id, body, attachments, reply_to } = outgoing;
        validate::message(body, attachments)?;
        validate::client_id(client_id)?;
        self.limits().send(caller.user()).await?;
        self.check_verified(caller).await?;
        let found = self.sendable_conversation(caller, conversation).await?;
        self.check_recipient(caller, &found).await?;
        if let Some(seq) = reply_to {
            self.reply_original(conversation, seq).await?;
        }
        let mentions = self.mentioned(&found, body).await?;
        let members = found.members;
        let attachments = self.claim_for_message(caller, conversation, client_id, attachments).await?;
        let ticket = self.ticket(conversation);
        let started = std::time::Instant::now();
        let appended = self
            .store()
            .append_member_message(NewMessage {
                conversation,
                sender: caller.user(),
                body: body.to_string(),
                client_id: client_id.to_string(),
                sent_at: self.now(),
                attachments,
                reply_to,
                mentions,
                event: None,
            })
            .await;
        self.metrics().store_append.record(started.elapsed());
        // Nothing stored on an error or a refusal, but the ticket still releases, here and to
        // other nodes, the messages that were waiting for this one.
        let appended = match appended {
            Ok(Some(appended)) => appended,
            Ok(None) => {
                // Removed (through another node) between the check above and the append's
                // commit: what a non-member gets; this node's record of the group is stale.
                self.route_in_order(ticket, None).await;
                self.cache().forget(&[conversation], &[]);
                return Err(Error::NotFound(Entity::Conversation));
            }
            Err(error) => {
                self.route_in_order(ticket, None).await;
                return Err(error.into());
            }
        };
        let (created, mut message) = match appended {
            Appended::Created(message) => (true, message),
            Appended::Duplicate(message) => (false, message),
        };
        if let Err(error) = self.fill_reply_previews(std::slice::from_mut(&mut message)).await {
            // The message is stored: it goes out without its preview rather than not at all
            // (history pages show the preview once the store reads again).
            tracing::warn!(%error, "could not read the original of a reply");
        }
        if created {
            self.metrics().messages_sent.increment(1);
            self.index_message(&message);
            let event = Event::Message { message: message.clone() };
            self.push_message(&message, found.name.clone(), &members);
            self.route_in_order(ticket, Some((message.seq, members, event))).await;
        } else {
            self.route_in_order(ticket, None).await;
        }
        Ok(message)
    }

    /// Replaces the body of the caller's own message. An edit stores and fans out a body as a
    /// send does, so it counts against the same `RateLimits::sends`.
    ///
    /// # Errors
    /// `invalid` body; `rate_limited` past `RateLimits::sends` (nothing changed);
    /// `message_not_found` (also for a conversation the caller is not in: message ids can be
    /// derived, so existence is not told to outsiders); `not_sender`; `not_member` (the sender,
    /// having left the conversation); `message_deleted`; `system_message` for a system line
    /// (see the `system_lines` module); `unavailable`.
    pub async fn edit(&self, caller: &Caller, id: MessageId, body: &str) -> Result<Message> {
        validate::body(body)?;
        self.limits().send(caller.user()).await?;
        let (mut message, conversation) = self.own_message(caller, id).await?;
        message.mentions = self.mentioned(&conversation, body).await?;
        message.body = body.to_string();
        message.edited_at = Some(self.now());
        if !self.store().replace_message(&message).await? {
            // Deleted since it was read (by its sender elsewhere, an administrator, retention).
            return Err(Error::invalid("id", Invalid::Deleted));
        }
        if let Some(now) = self.store().message(id).await? {
            // Reactions are not the editor's to replace: the store kept its own.
            message.reactions = now.reactions;
        }
        self.index_message(&message);
        self.fill_reply_previews(std::slice::from_mut(&mut message)).await?;
        self.route(conversation.members, Event::Edit { message: message.clone() }).await;
        Ok(message)
    }

    /// Deletes the caller's own message: its seq stays (history remains gap-free), its body
    /// is erased, members' devices are told.
    ///
    /// # Errors
    /// As [`Chat::edit`].
    pub async fn delete(&self, caller: &Caller, id: MessageId) -> Result<Message> {
        let (message, conversation) = self.own_message(caller, id).await?;
        self.erase(message, conversation.members).await
    }

    /// Deletes a message for whoever may (its sender, an administrator, retention): clears
    /// its body and files in the store, tells members' devices, then deletes the files' bytes
    /// and records (see the `attachments` module).
    ///
    /// # Errors
    /// `message_deleted` if another deletion landed since `message` was read (that one deletes
    /// the files and tells the devices); `unavailable`.
    pub(crate) async fn erase(&self, mut message: Message, members: Vec<crate::id::UserId>) -> Result<Message> {
        message.body.clear();
        message.deleted = true;
        message.edited_at = Some(self.now());
        message.mentions.clear();
        message.reactions.clear();
        message.reply = None;
        message.event = None;
        let attachments = std::mem::take(&mut message.attachments);
        if !self.store().replace_message(&message).await? {
            return Err(Error::invalid("id", Invalid::Deleted));
        }
        self.index_message(&message);
        self.discard_attachments(&attachments).await;
        let event = Event::Delete { conversation: message.conversation, id: message.id, seq: message.seq };
        self.route(members, event).await;
        Ok(message)
    }

    async fn own_message(&self, caller: &Caller, id: MessageId) -> Result<(Message, Conversation)> {
        let message = self.store().message(id).await?.ok_or(Error::NotFound(Entity::Message))?;
        let conversation = match self.member_conversation(caller, message.conversation).await {
            // Its sender knows the message exists; anyone else learns nothing.
            Err(Error::NotFound(Entity::Conversation)) if message.sender == caller.user() => {
                return Err(Error::Forbidden(Denied::NotMember))
            }
            Err(Error::NotFound(Entity::Conversation)) => return Err(Error::NotFound(Entity::Message)),
            member => member?,
        };
        if message.event.is_some() {
            return Err(Error::Forbidden(Denied::SystemMessage));
        }
        if message.sender != caller.user() {
            return Err(Error::Forbidden(Denied::NotSender));
        }
        if message.deleted {
            return Err(Error::invalid("id", Invalid::Deleted));
        }
        Ok((message, conversation))
    }

    /// A page of history, oldest first: the newest `limit`, or those just before or after a
    /// seq.
    ///
    /// # Errors
    /// `out_of_range` limit (1–200); `conversation_not_found` (also for a conversation the
    /// caller is not in); `unavailable`.
    pub async fn history(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let limit = validate::limit(limit)?;
        self.member_conversation(caller, conversation).await?;
        let mut messages = self.store().history(conversation, page, limit).await?;
        self.fill_reply_previews(&mut messages).await?;
        Ok(messages)
    }

    /// Moves the caller's delivered or read mark forward to `seq` and tells the members.
    /// Returns the new receipt, or None if the mark was already there.
    ///
    /// # Errors
    /// `out_of_range` for a seq beyond the newest message; `conversation_not_found` (also
    /// for a conversation the caller is not in); `unavailable`.
    pub async fn mark(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> Result<Option<Receipt>> {
        let members = self.member_conversation(caller, conversation).await?.members;
        if seq > self.store().last_seq(conversation).await? {
            return Err(Error::invalid(Self::receipt_field(kind), Invalid::OutOfRange));
        }
        let receipt = self.store().advance_receipt(conversation, caller.user(), kind, seq).await?;
        if let Some(receipt) = receipt {
            self.route(members, Event::Receipt(receipt)).await;
        }
        Ok(receipt)
    }

    /// Tells the other members the caller is typing. Nothing is stored.
    ///
    /// # Errors
    /// `rate_limited` past `RateLimits::typing`; `conversation_not_found` (also for a
    /// conversation the caller is not in); `unavailable`.
    pub async fn typing(&self, caller: &Caller, conversation: ConversationId) -> Result<()> {
        self.limits().typing(caller.user()).await?;
        let mut members = self.sendable_conversation(caller, conversation).await?.members;
        members.retain(|m| *m != caller.user());
        self.route(members, Event::Typing { conversation, user: caller.user() }).await;
        Ok(())
    }

    /// Connects a device: from now on it receives every event for the caller. Use
    /// [`Subscription::resume`] to receive what it missed first.
    ///
    /// # Errors
    /// `too_many_connections` beyond `ChatConfig::max_devices_per_user`; as [`Chat::verify`]
    /// if the caller's session ended meanwhile; `unavailable`. On an error no device stays.
    pub async fn subscribe(&self, caller: &Caller) -> Result<Subscription> {
        let (device, rx, first) = self.hub().register(caller.user(), caller.session())?;
        // The subscription owns the device from here: if what follows fails, dropping it
        // unregisters the device.
        let mut subscription = Subscription::new(self.clone(), caller.clone(), device, rx);
        // Registered first, read second: a message after a seq read here arrives live.
        let mut known = Vec::new();
        for conversation in self.store().conversations_of(caller.user()).await? {
            known.push((conversation, self.store().last_seq(conversation).await?));
        }
        subscription.start_from(known);
        // Checked again now that the device is registered: a revocation between the caller's
        // authentication and the registration found no device to end; one after it ends this.
        self.verify(caller).await?;
        if first {
            self.came_online_here(caller.user()).await;
        }
        Ok(subscription)
    }
}

/// What [`Chat::send_message`] sends: everything a message may carry besides its
/// conversation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outgoing<'a> {
    /// The sender's idempotency key (per conversation and sender).
    pub client_id: &'a str,
    /// The text (may be empty with files).
    pub body: &'a str,
    /// Uploads of the caller's to carry, in order.
    pub attachments: &'a [AttachmentId],
    /// The seq of the message of the same conversation this one replies to.
    pub reply_to: Option<Seq>,
}
