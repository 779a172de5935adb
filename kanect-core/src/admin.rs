//! Administration: roles enforced here, in the engine, so an embedding application gets the
//! same checks as the HTTP admin API. Every action is written to the audit log: accounts
//! created (`user.create`) and edited (`user.edit`), disabled, promoted, reset, deleted, messages
//! deleted, backups taken (invites' entries are the `invites` module's).
//!
//! Each call re-reads the caller's stored role: a demoted administrator loses their powers at
//! once, whatever their session says.
//!
//! **Concurrent changes.** An action changes only its own field of an account
//! ([`UserStore::update_user`](crate::backend::UserStore::update_user) with a [`UserUpdate`]),
//! never writes back a whole record it read earlier: a disable and a promotion at once (from two
//! administrators, on any nodes), or a disable while a device records its user's last-seen time,
//! all take effect. Each answers, and announces, the account as the store left it.
//!
//! **Deleting a user** (by an administrator, or by the user themselves with their password:
//! one rule, `remove_account`) removes the account, its credentials, sessions and avatar, and
//! its group memberships (ownership passes on; the group's history gets a "removed" line, or
//! "left" when the user deleted themselves). Its messages stay where they were, so other members'
//! history keeps its seqs and context; clients show the sender as a deleted account. Its
//! direct conversations stay readable by the other member, and take no new messages
//! (`recipient_unavailable`), as those of a disabled account do until it is enabled again.

use crate::accounts::Registration;
use crate::chat::{Caller, Chat};
use crate::error::{AuthFailure, Denied, Entity, Error, Result};
use crate::id::{AuditId, ConversationId, MessageId, UserId};
use crate::model::{AuditEntry, Conversation, ConversationKind, Message, Presence, Role, User};
use crate::store::{HistoryPage, UserQuery, UserUpdate};
use crate::validate;
use serde::Serialize;

/// A user as an administrator sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdminUserView {
    /// The full record, email included.
    #[serde(flatten)]
    pub user: User,
    /// Online now, last seen.
    pub presence: Presence,
    /// How many conversations the user is in.
    pub conversations: usize,
}

/// What [`Chat::admin_edit_user`] changes: each field given is set (an empty one cleared),
/// each absent one kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserEdit {
    /// The new display name; empty clears it.
    pub display_name: Option<String>,
    /// The new e-mail address; empty clears it.
    pub email: Option<String>,
}

/// Counts for the admin dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ServerStats {
    /// Accounts.
    pub users: u64,
    /// Users online (on any node, as this node knows).
    pub online_users: u64,
    /// Conversations.
    pub conversations: u64,
    /// Messages, deleted included.
    pub messages: u64,
    /// Devices connected to this node.
    pub connections: u64,
}

impl Chat {
    /// Creates an administrator account. Trusted: for the server's `create-admin` command
    /// and other bootstrap paths, not for requests.
    ///
    /// # Errors
    /// As [`Chat::register`].
    pub async fn create_admin(&self, registration: Registration) -> Result<User> {
        self.create_user(registration, Role::Admin).await
    }

    /// Makes sure `registration.username` is an administrator: creates the account if absent,
    /// promotes it (password unchanged) if present. Trusted, for unattended starts. Returns
    /// the user and whether it was created.
    ///
    /// # Errors
    /// As [`Chat::register`].
    pub async fn ensure_admin(&self, registration: Registration) -> Result<(User, bool)> {
        match self.store().user_by_username(&registration.username).await? {
            Some(user) if user.role == Role::Admin => Ok((user, false)),
            Some(user) => {
                let user = self.update_existing(user.id, UserUpdate::Role(Role::Admin)).await?;
                self.announce_user(&user).await;
                Ok((user, false))
            }
            None => Ok((self.create_admin(registration).await?, true)),
        }
    }

    /// Creates an account from the admin area, with any role, in every sign-up mode (an invite
    /// in `registration` is ignored); validated as a sign-up is. Writes `user.create` (the new
    /// account's username as its detail) to the audit log.
    ///
    /// # Errors
    /// `admin_only`; as [`Chat::register`].
    pub async fn admin_create_user(&self, caller: &Caller, registration: Registration, role: Role) -> Result<User> {
        self.require_admin(caller).await?;
        let user = self.create_user(registration, role).await?;
        self.audit(caller.user(), "user.create", user.id.to_string(), Some(user.username.clone())).await?;
        Ok(user)
    }

    /// Changes an account's display name or e-mail address, as Django's admin could: each
    /// field given (`Some`) is set, an empty or blank one cleared; validated as at sign-up. A new
    /// address is unverified and, with verification on, is mailed a verification link, as when
    /// the user changes it themselves; the address the account already has changes nothing (it
    /// stays verified). Writes `user.edit` (the fields changed as its detail) to the audit log
    /// and announces the account; an edit that changes no field writes nothing.
    ///
    /// # Errors
    /// `admin_only`; `invalid` naming the field (`display_name`, `email`); `user_not_found`;
    /// `unavailable`.
    pub async fn admin_edit_user(&self, caller: &Caller, id: UserId, edit: UserEdit) -> Result<User> {
        self.require_admin(caller).await?;
        let mut updates = Vec::new();
        if let Some(name) = edit.display_name {
            let name = Some(name).filter(|n| !n.trim().is_empty()).map(|n| validate::name("display_name", &n));
            updates.push(("display_name", UserUpdate::DisplayName(name.transpose()?)));
        }
        let email = edit.email.map(|e| Some(e).filter(|e| !e.trim().is_empty()).map(|e| validate::email(&e)));
        let email = email.map(Option::transpose).transpose()?;
        let mut user = self.store().user(id).await?.ok_or(Error::NotFound(Entity::User))?;
        let email_changed = email.as_ref().is_some_and(|email| *email != user.email);
        if let Some(email) = email.filter(|_| email_changed) {
            updates.push(("email", UserUpdate::Email(email)));
        }
        if updates.is_empty() {
            return Ok(user);
        }
        let fields: Vec<&str> = updates.iter().map(|(field, _)| *field).collect();
        let fields = fields.join(",");
        for (_, update) in updates {
            user = self.update_existing(id, update).await?;
        }
        self.announce_user(&user).await;
        self.audit(caller.user(), "user.edit", id.to_string(), Some(fields)).await?;
        if email_changed {
            self.restart_verification(&user).await?;
        }
        Ok(user)
    }

    /// A page of users, disabled ones included, with email and counts.
    ///
    /// # Errors
    /// `admin_only`; `out_of_range` limit; `unavailable`.
    pub async fn admin_users(
        &self,
        caller: &Caller,
        search: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AdminUserView>> {
        self.require_admin(caller).await?;
        let limit = validate::limit(limit)?;
        let query = UserQuery {
            search: search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase),
            after: after.map(User::fold),
            limit,
        };
        let mut views = Vec::new();
        for user in self.store().users(&query).await? {
            views.push(self.admin_view(user).await?);
        }
        Ok(views)
    }

    /// One user, as an administrator sees them.
    ///
    /// # Errors
    /// `admin_only`; `user_not_found`; `unavailable`.
    pub async fn admin_user(&self, caller: &Caller, id: UserId) -> Result<AdminUserView> {
        self.require_admin(caller).await?;
        let user = self.store().user(id).await?.ok_or(Error::NotFound(Entity::User))?;
        self.admin_view(user).await
    }

    /// Disables or enables an account. Disabling ends its sessions and closes its live
    /// connections at once, on every node.
    ///
    /// # Errors
    /// `admin_only`; `self_action`; `user_not_found`; `unavailable`.
    pub async fn set_disabled(&self, caller: &Caller, id: UserId, disabled: bool) -> Result<User> {
        self.admin_target(caller, id).await?;
        let user = self.update_existing(id, UserUpdate::Disabled(disabled)).await?;
        // Sockets close and others hear of it as soon as the flag is stored: `authenticate`
        // refuses a disabled account's sessions even before they are deleted.
        if disabled {
            self.end_sessions(id, None, "account_disabled").await;
        }
        self.announce_user(&user).await;
        if disabled {
            self.store().delete_sessions_of(id).await?;
        }
        let action = if disabled { "user.disable" } else { "user.enable" };
        self.audit(caller.user(), action, id.to_string(), None).await?;
        Ok(user)
    }

    /// Changes an account's role.
    ///
    /// # Errors
    /// `admin_only`; `self_action`; `user_not_found`; `unavailable`.
    pub async fn set_role(&self, caller: &Caller, id: UserId, role: Role) -> Result<User> {
        self.admin_target(caller, id).await?;
        let user = self.update_existing(id, UserUpdate::Role(role)).await?;
        self.announce_user(&user).await;
        let detail = match role {
            Role::Admin => "admin",
            Role::User => "user",
        };
        self.audit(caller.user(), "user.role", id.to_string(), Some(detail.into())).await?;
        Ok(user)
    }

    /// Sets a new password for an account and ends its sessions.
    ///
    /// # Errors
    /// `admin_only`; `invalid` password; `user_not_found`; `unavailable`.
    pub async fn reset_password(&self, caller: &Caller, id: UserId, password: &str) -> Result<()> {
        self.require_admin(caller).await?;
        let user = self.store().user(id).await?.ok_or(Error::NotFound(Entity::User))?;
        validate::password(password, &user.username)?;
        let hash = self.hasher().hash(password.to_string()).await?;
        // Deleted while the hash was computed (it takes a while by design): nothing to audit.
        if !self.store().set_password_hash(id, &hash).await? {
            return Err(Error::NotFound(Entity::User));
        }
        self.store().delete_sessions_of(id).await?;
        self.end_sessions(id, None, "password_reset").await;
        self.audit(caller.user(), "user.password_reset", id.to_string(), None).await
    }

    /// Deletes an account (see the module docs for what happens to its messages).
    ///
    /// # Errors
    /// `admin_only`; `self_action`; `user_not_found`; `unavailable`.
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<()> {
        let user = self.admin_target(caller, id).await?;
        self.remove_account(&user, caller.user()).await?;
        self.audit(caller.user(), "user.delete", id.to_string(), Some(user.username)).await
    }

    /// Deletes an account as the module docs say, `actor` (an administrator, or the user
    /// themselves) removing it from its groups: the one rule for both kinds of deletion.
    ///
    /// # Errors
    /// `user_not_found` if another deletion won the race (that one is announced);
    /// `unavailable`.
    pub(crate) async fn remove_account(&self, user: &User, actor: UserId) -> Result<()> {
        let id = user.id;
        for conversation in self.store().conversations_of(id).await? {
            let Some(conversation) = self.store().conversation(conversation).await? else { continue };
            if conversation.kind == ConversationKind::Group {
                self.drop_member(conversation, id, actor).await?;
            }
        }
        // Another delete won the race: theirs is announced (and, an administrator's, audited).
        let deleted = self.store().delete_user(id).await;
        self.forget(Vec::new(), vec![id]).await;
        if !deleted? {
            return Err(Error::NotFound(Entity::User));
        }
        self.store().delete_notifications_of(id).await?;
        self.end_sessions(id, None, "account_deleted").await;
        self.announce_deleted(id).await;
        self.forget_avatar(user.avatar).await;
        Ok(())
    }

    /// A page of all conversations, by id.
    ///
    /// # Errors
    /// `admin_only`; `out_of_range` limit; `unavailable`.
    pub async fn admin_conversations(
        &self,
        caller: &Caller,
        after: Option<ConversationId>,
        limit: usize,
    ) -> Result<Vec<Conversation>> {
        self.require_admin(caller).await?;
        Ok(self.store().conversations(after, validate::limit(limit)?).await?)
    }

    /// A page of any conversation's history.
    ///
    /// # Errors
    /// `admin_only`; `out_of_range` limit; `conversation_not_found`; `unavailable`.
    pub async fn admin_history(
        &self,
        caller: &Caller,
        id: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.require_admin(caller).await?;
        let limit = validate::limit(limit)?;
        self.store().conversation(id).await?.ok_or(Error::NotFound(Entity::Conversation))?;
        Ok(self.store().history(id, page, limit).await?)
    }

    /// Deletes any message; members' devices are told as for a sender's own delete.
    ///
    /// # Errors
    /// `admin_only`; `message_not_found`; `message_deleted`; `unavailable`.
    pub async fn admin_delete_message(&self, caller: &Caller, id: MessageId) -> Result<Message> {
        self.require_admin(caller).await?;
        let message = self.store().message(id).await?.ok_or(Error::NotFound(Entity::Message))?;
        if message.deleted {
            return Err(Error::invalid("id", crate::error::Invalid::Deleted));
        }
        let members = self.store().conversation(message.conversation).await?.map(|c| c.members).unwrap_or_default();
        let conversation = message.conversation.to_string();
        let erased = self.erase(message, members).await?;
        self.audit(caller.user(), "message.delete", id.to_string(), Some(conversation)).await?;
        Ok(erased)
    }

    /// Counts for the dashboard.
    ///
    /// # Errors
    /// `admin_only`; `unavailable`.
    pub async fn server_stats(&self, caller: &Caller) -> Result<ServerStats> {
        self.require_admin(caller).await?;
        let stats = self.store().stats().await?;
        Ok(ServerStats {
            users: stats.users,
            online_users: self.online_count() as u64,
            conversations: stats.conversations,
            messages: stats.messages,
            connections: self.connected_devices() as u64,
        })
    }

    /// A page of the audit log, newest first.
    ///
    /// # Errors
    /// `admin_only`; `out_of_range` limit; `unavailable`.
    pub async fn audit_log(&self, caller: &Caller, before: Option<AuditId>, limit: usize) -> Result<Vec<AuditEntry>> {
        self.require_admin(caller).await?;
        Ok(self.store().audit_log(before, validate::limit(limit)?).await?)
    }

    /// Checks that `caller` may take a backup of the store (an administrator) and writes
    /// `store.export` to the audit log, before the backup begins: the dump then holds its own
    /// entry. The dump itself is the embedding application's to write (kanect-store's
    /// `backup` module): the engine does not encode it.
    ///
    /// # Errors
    /// As [`Chat::require_admin`]; `unavailable` if the audit entry cannot be written (and
    /// then no backup should be taken).
    pub async fn begin_export(&self, caller: &Caller) -> Result<()> {
        self.require_admin(caller).await?;
        self.audit(caller.user(), "store.export", "store".into(), None).await
    }

    /// Refuses callers whose *stored* role is not admin, and returns their account: for every
    /// administrative call here, and for an adapter's own administrative endpoint that refuses
    /// before it does anything else.
    ///
    /// # Errors
    /// `invalid_session` (the account is gone); `account_disabled`; `admin_only`; `unavailable`.
    pub async fn require_admin(&self, caller: &Caller) -> Result<User> {
        let user = self.active_user(caller).await?;
        if user.role != Role::Admin {
            return Err(Error::Forbidden(Denied::AdminOnly));
        }
        Ok(user)
    }

    /// The caller's stored role, if their account is still there and enabled: for calls whose
    /// rights depend on it (see the module docs on why the stored role, not the session's).
    ///
    /// # Errors
    /// `invalid_session` (the account is gone); `account_disabled`; `unavailable`.
    pub(crate) async fn active_role(&self, caller: &Caller) -> Result<Role> {
        Ok(self.active_user(caller).await?.role)
    }

    async fn active_user(&self, caller: &Caller) -> Result<User> {
        let user = self.store().user(caller.user()).await?.ok_or(Error::Unauthorized(AuthFailure::InvalidSession))?;
        if user.disabled {
            return Err(Error::Unauthorized(AuthFailure::AccountDisabled));
        }
        Ok(user)
    }

    /// The target of an action an admin may not take on themselves.
    async fn admin_target(&self, caller: &Caller, id: UserId) -> Result<User> {
        self.require_admin(caller).await?;
        if id == caller.user() {
            return Err(Error::Forbidden(Denied::SelfAction));
        }
        self.store().user(id).await?.ok_or(Error::NotFound(Entity::User))
    }

    /// Changes one field of an account and returns it as stored, other fields included (another
    /// administrator's change a moment ago stays, and is what gets announced): `user_not_found`
    /// if it was deleted since it was read, so that nothing is announced or audited for an
    /// account that is gone.
    async fn update_existing(&self, id: UserId, update: UserUpdate) -> Result<User> {
        let updated = self.store().update_user(id, update).await;
        // Forgotten whatever came of it: a change that failed may have been made.
        self.forget(Vec::new(), vec![id]).await;
        updated?.ok_or(Error::NotFound(Entity::User))
    }

    async fn admin_view(&self, user: User) -> Result<AdminUserView> {
        let conversations = self.store().conversations_of(user.id).await?.len();
        Ok(AdminUserView { presence: self.presence(&user), user, conversations })
    }

    /// Appends an entry to the audit log: `actor` did `action` to `target`.
    pub(crate) async fn audit(
        &self,
        actor: UserId,
        action: &str,
        target: String,
        detail: Option<String>,
    ) -> Result<()> {
        let entry =
            AuditEntry { id: AuditId::new(), at: self.now(), actor, action: action.to_string(), target, detail };
        Ok(self.store().append_audit(&entry).await?)
    }
}
