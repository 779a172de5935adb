//! The engine's one public error type.
//!
//! Callers match the variant (and its detail enum), never the Display text. Every error has a
//! stable machine code ([`Error::code`]) that adapters put on the wire; backend failures are
//! folded into [`Error::Unavailable`] so that no sled or PostgreSQL message reaches a client.

use std::time::Duration;

/// The result type of every engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing named does not exist (or the caller may not know it exists).
    #[error("{0} not found")]
    NotFound(Entity),
    /// The caller is not who they say, or their session is gone.
    #[error("unauthorized: {0}")]
    Unauthorized(AuthFailure),
    /// The caller is known but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(Denied),
    /// An input failed validation; `field` names it, `reason` says why.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The input field, as named in the API (`"username"`, `"body"`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: Invalid,
    },
    /// The request collides with existing state.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// An invite link that cannot be used (see the `invites` module).
    #[error("invite refused: {0}")]
    Invite(InviteRefused),
    /// A limit was hit; try again later (or never, for a hard cap).
    #[error("limit reached: {limit}")]
    Limited {
        /// Which limit.
        limit: Limit,
        /// When trying again may succeed, if known.
        retry_after: Option<Duration>,
    },
    /// The store or bus failed. Nothing was acknowledged, but a write may still have taken
    /// effect (its outcome is unknown): a send is safe to retry with the same client id; any
    /// other write may have happened too, so check before repeating one that is not
    /// idempotent (creating a group, signing up).
    #[error("service unavailable")]
    Unavailable(#[source] StoreError),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: &'static str, reason: Invalid) -> Self {
        Error::Invalid { field, reason }
    }

    /// The stable machine code of this error, e.g. `"not_member"` or `"too_long"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(entity) => entity.code(),
            Error::Unauthorized(failure) => failure.code(),
            Error::Forbidden(denied) => denied.code(),
            Error::Invalid { reason, .. } => reason.code(),
            Error::Conflict(conflict) => conflict.code(),
            Error::Invite(refused) => refused.code(),
            Error::Limited { limit, .. } => limit.code(),
            Error::Unavailable(_) => "unavailable",
        }
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    /// True for [`Error::Unauthorized`].
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized(_))
    }

    /// True for [`Error::Forbidden`].
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Error::Forbidden(_))
    }

    /// True for [`Error::Invalid`].
    pub fn is_invalid(&self) -> bool {
        matches!(self, Error::Invalid { .. })
    }
}

macro_rules! coded_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The stable machine code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded_enum!(
    /// What was not found.
    Entity {
        /// A user.
        User => "user_not_found",
        /// A conversation (also what anyone not in it sees of one that exists).
        Conversation => "conversation_not_found",
        /// A message.
        Message => "message_not_found",
        /// An attachment (also one the caller may not read: it is in a conversation they are
        /// not in, its message was deleted, or it is another user's unsent upload).
        Attachment => "attachment_not_found",
        /// An invite, by id (also another user's, for a user who is not an administrator).
        Invite => "invite_not_found",
        /// One of the caller's own sessions (another user's is not found either).
        Session => "session_not_found",
        /// A user's avatar: they have none (or another since: its version is stale).
        Avatar => "avatar_not_found",
    }
);

coded_enum!(
    /// Why authentication failed.
    AuthFailure {
        /// Unknown username or wrong password (deliberately indistinguishable).
        BadCredentials => "bad_credentials",
        /// The session token is unknown, malformed or logged out.
        InvalidSession => "invalid_session",
        /// The session token has expired.
        SessionExpired => "session_expired",
        /// The account is disabled by an administrator.
        AccountDisabled => "account_disabled",
        /// A mailed link's token (verification, password reset) is unknown: forged, used
        /// already, replaced by a newer one, or its account deleted.
        InvalidToken => "invalid_token",
        /// A mailed link's token has expired.
        TokenExpired => "token_expired",
    }
);

coded_enum!(
    /// Why an authenticated caller was refused.
    Denied {
        /// The user named is not a member of the group (removing them), or the caller left the
        /// conversation of their own message (editing it). A conversation the caller is not in
        /// is `conversation_not_found` instead: outsiders do not learn that it exists.
        NotMember => "not_member",
        /// Only the group's owner may do this.
        NotOwner => "not_owner",
        /// Only the message's sender may do this.
        NotSender => "not_sender",
        /// Only an administrator may do this.
        AdminOnly => "admin_only",
        /// Direct conversations have exactly their two members.
        DirectConversation => "direct_conversation",
        /// An administrator may not disable, delete or demote themselves.
        SelfAction => "self_action",
        /// The other account is disabled or deleted: a direct conversation with it takes no new
        /// messages, and a disabled one cannot be added to a group or a new direct
        /// conversation.
        RecipientUnavailable => "recipient_unavailable",
        /// A system line (a group's record of its own change) takes no edit, deletion by its
        /// actor, reaction or reply.
        SystemMessage => "system_message",
        /// The engine has no blob store ([`ChatBuilder::blobs`](crate::ChatBuilder::blobs)):
        /// files cannot be uploaded or read.
        AttachmentsDisabled => "attachments_disabled",
        /// The engine has no search index ([`ChatBuilder::search`](crate::ChatBuilder::search)):
        /// messages cannot be searched.
        SearchDisabled => "search_disabled",
        /// The account's current password, asked again before a change to the account (a new
        /// password, deleting it), is wrong. Counted against the log-in slow-downs.
        WrongPassword => "wrong_password",
        /// The server requires a verified e-mail address before chatting
        /// ([`Verification::Required`](crate::Verification::Required)), and the caller's is not.
        EmailUnverified => "email_unverified",
        /// The engine has no mailer ([`ChatBuilder::mailer`](crate::ChatBuilder::mailer)):
        /// nothing can be mailed (verification, password reset).
        MailDisabled => "mail_disabled",
        /// The account has no e-mail address to verify or mail to.
        NoEmail => "no_email",
        /// The engine has no [`PushSender`](crate::PushSender): Web Push is off.
        PushDisabled => "push_disabled",
        /// The operator closed public sign-ups ([`SignUpMode::Closed`](crate::SignUpMode::Closed)):
        /// only an administrator creates accounts.
        SignUpClosed => "sign_up_closed",
        /// Sign-ups need an invite ([`SignUpMode::Invite`](crate::SignUpMode::Invite)) and none
        /// was given.
        InviteRequired => "invite_required",
    }
);

coded_enum!(
    /// Why an invite link cannot be used.
    InviteRefused {
        /// No such invite: never made (a forged or mistyped token), or revoked. One code for
        /// both, so a token's text tells nobody whether it ever existed.
        Unknown => "invite_invalid",
        /// Past its expiry.
        Expired => "invite_expired",
        /// Every use of it is taken.
        UsedUp => "invite_used_up",
    }
);

coded_enum!(
    /// What is wrong with an input.
    Invalid {
        /// Empty, or only whitespace.
        Empty => "empty",
        /// Shorter than the minimum.
        TooShort => "too_short",
        /// Longer than the maximum.
        TooLong => "too_long",
        /// Contains characters that are not allowed (control characters, confusable
        /// whitespace, or outside the allowed set).
        BadCharacters => "bad_characters",
        /// Not of the expected form (an email without `@`, a malformed id).
        Malformed => "malformed",
        /// A password too easy to guess.
        TooWeak => "too_weak",
        /// A number outside its allowed range (a seq beyond the last message, a zero limit).
        OutOfRange => "out_of_range",
        /// The message was deleted and cannot be changed.
        Deleted => "message_deleted",
        /// The same item twice where each may appear once (an attachment id in one message).
        Repeated => "repeated",
        /// An upload's body ended before it was whole (the uploader went away).
        Incomplete => "incomplete",
        /// A reaction that is not one emoji.
        NotEmoji => "not_emoji",
        /// A push subscription's endpoint that is not `https`, or resolves to a private,
        /// loopback, link-local or unspecified address (unless the operator allows them).
        PushEndpoint => "bad_push_endpoint",
        /// A push subscription's keys that are not base64url, of the wrong length, or not a
        /// point on P-256.
        PushKeys => "bad_push_keys",
        /// An image (an avatar) that is not a JPEG, PNG, GIF or WebP file, or does not decode.
        NotAnImage => "not_an_image",
        /// An image whose header claims more pixels than the engine decodes (a decompression
        /// bomb, or just a huge picture); refused before any pixel is decoded.
        ImageTooLarge => "image_too_large",
    }
);

coded_enum!(
    /// What the request collides with.
    Conflict {
        /// The username is taken (case-insensitively).
        UsernameTaken => "username_taken",
        /// The user is already a member.
        AlreadyMember => "already_member",
        /// A direct conversation with oneself.
        SelfConversation => "self_conversation",
        /// The attachment is already carried by another message.
        AttachmentInUse => "attachment_in_use",
        /// The message carries [`REACTIONS_MAX`](crate::REACTIONS_MAX) different emoji already.
        TooManyReactions => "too_many_reactions",
        /// The store refused a write that collides with existing data.
        Exists => "conflict",
    }
);

coded_enum!(
    /// Which limit was reached.
    Limit {
        /// Too many log-in attempts: at this account (from this client address, or from all),
        /// or password hashes from this address on this node. Slowed down, not locked: the
        /// error's `retry_after` says when to try again.
        LoginAttempts => "too_many_attempts",
        /// Too many open connections (subscriptions) for one user.
        Connections => "too_many_connections",
        /// Too many sends from one account (`RateLimits::sends`).
        Sends => "rate_limited",
        /// Too many typing signals from one account (`RateLimits::typing`).
        Typing => "rate_limited",
        /// An account holds [`InviteLimits::open_per_user`](crate::InviteLimits::open_per_user)
        /// usable invites already (administrators have no such cap).
        Invites => "too_many_invites",
        /// Too many groups created by one account (`RateLimits::group_creations`).
        GroupCreations => "rate_limited",
        /// Too many users added to groups by one account (`RateLimits::member_additions`).
        MemberAdditions => "rate_limited",
        /// Too many sign-ups from one client address (`RateLimits::sign_ups_per_address`), or
        /// too many password hashes from it on this node (`LoginLimits`, shared with log-ins).
        SignUps => "rate_limited",
        /// A file over [`AttachmentLimits::max_file_bytes`](crate::AttachmentLimits::max_file_bytes).
        AttachmentSize => "attachment_too_large",
        /// The account's files would take more than
        /// [`AttachmentLimits::quota_bytes`](crate::AttachmentLimits::quota_bytes).
        AttachmentQuota => "quota_exceeded",
        /// The account has [`AttachmentLimits::uploads_in_flight`](crate::AttachmentLimits::uploads_in_flight)
        /// uploads under way on this node already.
        Uploads => "too_many_uploads",
        /// Too many verification mails asked for by one account
        /// (`RateLimits::verification_mails`).
        VerificationMails => "rate_limited",
        /// Too many password resets asked for one address or account, or from one client
        /// address (`RateLimits::resets_per_account`, `RateLimits::resets_per_client`).
        PasswordResets => "rate_limited",
        /// An avatar file over [`validate::AVATAR_MAX_BYTES`](crate::validate::AVATAR_MAX_BYTES).
        AvatarSize => "avatar_too_large",
    }
);

/// A failure inside a [`Store`](crate::Store) or [`Bus`](crate::Bus) backend.
///
/// Backends map their own errors here; the engine turns [`StoreError::Conflict`] into
/// [`Error::Conflict`] and everything else into [`Error::Unavailable`], keeping the source
/// for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint was hit.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The on-disk or schema format is not one this version understands.
    #[error("unsupported storage format: {0}")]
    Format(String),
    /// The backend failed (I/O, connection, pool).
    #[error("backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(conflict) => Error::Conflict(conflict),
            other => Error::Unavailable(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_backend_detail_is_hidden() {
        assert_eq!(Error::NotFound(Entity::Conversation).code(), "conversation_not_found");
        assert_eq!(Error::invalid("body", Invalid::TooLong).code(), "too_long");
        let io = std::io::Error::other("disk on fire at /secret/path");
        let error = Error::from(StoreError::backend(io));
        assert_eq!(error.code(), "unavailable");
        assert!(!error.to_string().contains("secret"));
        assert!(matches!(
            Error::from(StoreError::Conflict(Conflict::UsernameTaken)),
            Error::Conflict(Conflict::UsernameTaken)
        ));
    }
}
