//! Profiles: what a user changes about how others see them — display name, status text,
//! avatar — each broadcast to every device as [`Event::User`](crate::Event::User), as an
//! administrator's change is (see the `accounts` module).
//!
//! **One field at a time.** Each change is its own
//! [`UserUpdate`](crate::backend::UserUpdate), never the whole record written back: a status
//! set on a phone while an administrator disables the account on another node both stay.
//!
//! **Avatars** are decoded off the async threads, one at a time per engine (the turn
//! thumbnails take), within the attachment [`ImageLimits`](crate::ImageLimits) checked from the
//! header before any pixel is decoded, cut to their centred square and re-encoded at
//! [`validate::AVATAR_EDGE`] pixels (see [`media::avatar`](crate::avatar)): the original is
//! never kept. Each upload is stored in the blob store under a fresh id, which is the avatar's
//! version: a URL naming it never changes meaning and can be cached as immutable. The old
//! picture is deleted once the new one is in place (a failure there leaves an unreferenced
//! blob, logged, never a user without their new avatar).

use crate::blob::{BlobKey, PutError};
use crate::chat::{Caller, Chat};
use crate::error::{Denied, Entity, Error, Invalid, Limit, Result, StoreError};
use crate::id::{AttachmentId, UserId};
use crate::media::{self, NotAnImage};
use crate::model::User;
use crate::store::UserUpdate;
use crate::validate;
use bytes::Bytes;

/// A change of the caller's own profile: each field left `None` stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// A new display name; `Some("")` (or only spaces) clears it, so the username is shown.
    pub display_name: Option<String>,
    /// A new status text; `Some("")` clears it.
    pub status: Option<String>,
}

/// A user's avatar picture, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarImage {
    /// Its version (the id it is stored under): what makes its URL cacheable for ever.
    pub version: AttachmentId,
    /// `image/jpeg`, or `image/png` when it has transparent pixels.
    pub content_type: &'static str,
    /// The encoded picture, [`validate::AVATAR_EDGE`] pixels square at most.
    pub bytes: Bytes,
}

/// `Some(value)` of an optional text, validated by `rule`: an empty text is `None`.
fn cleared_or(value: &str, rule: impl Fn(&str) -> Result<String>) -> Result<Option<String>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    rule(value).map(Some)
}

impl Chat {
    /// Changes the caller's display name and/or status, and tells every device.
    ///
    /// # Errors
    /// `invalid` naming `display_name` (as at sign-up) or `status` (at most
    /// [`validate::STATUS_MAX_CHARS`] characters, no control characters); nothing is changed
    /// then. `user_not_found` if the account is gone; `unavailable`.
    pub async fn update_profile(&self, caller: &Caller, change: ProfileChange) -> Result<User> {
        let mut updates = Vec::new();
        if let Some(name) = &change.display_name {
            updates.push(UserUpdate::DisplayName(cleared_or(name, |n| validate::name("display_name", n))?));
        }
        if let Some(status) = &change.status {
            updates.push(UserUpdate::Status(cleared_or(status, validate::status)?));
        }
        let mut user = self.me(caller).await?;
        for update in updates {
            user = self.store().update_user(caller.user(), update).await?.ok_or(Error::NotFound(Entity::User))?;
        }
        self.announce_user(&user).await;
        Ok(user)
    }

    /// Makes the picture in `bytes` (a JPEG, PNG, GIF or WebP file) the caller's avatar: cut to
    /// its centred square, re-encoded small, and told to every device. See the module docs.
    ///
    /// # Errors
    /// `avatar_too_large` past [`validate::AVATAR_MAX_BYTES`]; `invalid` `avatar` with
    /// `not_an_image` (another format, or it does not decode) or `image_too_large` (its header
    /// claims more pixels than the engine decodes); `attachments_disabled` without a blob
    /// store; `user_not_found`; `unavailable`. Nothing is changed on an error.
    pub async fn set_avatar(&self, caller: &Caller, bytes: Vec<u8>) -> Result<User> {
        if bytes.len() > validate::AVATAR_MAX_BYTES {
            return Err(Error::Limited { limit: Limit::AvatarSize, retry_after: None });
        }
        let blobs = self.blob_store()?;
        let old = self.me(caller).await?.avatar;
        let turn = self
            .thumbnailing()
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Forbidden(Denied::AttachmentsDisabled))?;
        let limits = self.config().attachments.images.clone();
        let made = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            media::avatar(&bytes, &limits, validate::AVATAR_EDGE)
        })
        .await
        .map_err(|error| Error::Unavailable(StoreError::backend(error)))?
        .map_err(|refused| match refused {
            NotAnImage::TooLarge => Error::invalid("avatar", Invalid::ImageTooLarge),
            NotAnImage::Unsupported | NotAnImage::Corrupt => Error::invalid("avatar", Invalid::NotAnImage),
        })?;
        let version = AttachmentId::new();
        blobs.put(BlobKey::avatar(version), crate::blob::once(Bytes::from(made.bytes))).await.map_err(|error| {
            match error {
                PutError::Store(error) => Error::from(error),
                PutError::Body(error) => Error::Unavailable(StoreError::backend(error)),
            }
        })?;
        let Some(user) = self.store().update_user(caller.user(), UserUpdate::Avatar(Some(version))).await? else {
            // Deleted meanwhile: the picture has no one to belong to.
            self.forget_avatar(Some(version)).await;
            return Err(Error::NotFound(Entity::User));
        };
        self.forget_avatar(old).await;
        self.announce_user(&user).await;
        Ok(user)
    }

    /// Removes the caller's avatar (the web app shows their initials again), and tells every
    /// device. Removing none is not an error.
    ///
    /// # Errors
    /// `user_not_found`; `unavailable`.
    pub async fn remove_avatar(&self, caller: &Caller) -> Result<User> {
        let old = self.me(caller).await?.avatar;
        let user = self
            .store()
            .update_user(caller.user(), UserUpdate::Avatar(None))
            .await?
            .ok_or(Error::NotFound(Entity::User))?;
        self.forget_avatar(old).await;
        if old.is_some() {
            self.announce_user(&user).await;
        }
        Ok(user)
    }

    /// A user's avatar picture, for any signed-in caller (the user list is everyone's). With
    /// a `version`, only that one: a stale version is not found, so a cached URL never
    /// serves another picture.
    ///
    /// # Errors
    /// `user_not_found`; `avatar_not_found` (none, or not that version);
    /// `attachments_disabled` without a blob store; `unavailable`.
    pub async fn avatar(&self, _caller: &Caller, user: UserId, version: Option<AttachmentId>) -> Result<AvatarImage> {
        let blobs = self.blob_store()?;
        let user = self.store().user(user).await?.ok_or(Error::NotFound(Entity::User))?;
        let current = user.avatar.ok_or(Error::NotFound(Entity::Avatar))?;
        if version.is_some_and(|version| version != current) {
            return Err(Error::NotFound(Entity::Avatar));
        }
        let blob = blobs.get(BlobKey::avatar(current), None).await?.ok_or(Error::NotFound(Entity::Avatar))?;
        let bytes =
            crate::blob::collect(blob.bytes).await.map_err(|error| Error::Unavailable(StoreError::backend(error)))?;
        Ok(AvatarImage { version: current, content_type: media::sniff(&bytes), bytes: Bytes::from(bytes) })
    }

    /// Deletes an avatar picture no record names any more; a failure is logged (the blob is
    /// then left behind, unreferenced).
    pub(crate) async fn forget_avatar(&self, avatar: Option<AttachmentId>) {
        let (Some(avatar), Some(blobs)) = (avatar, self.blobs()) else { return };
        if let Err(error) = blobs.delete(BlobKey::avatar(avatar)).await {
            tracing::warn!(%error, %avatar, "could not delete a replaced avatar");
        }
    }
}
