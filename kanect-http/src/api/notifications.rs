//! Notification settings and Web Push over REST: read and change the settings (each change
//! also reaches the user's other devices as a `notification_settings` frame), the VAPID public
//! key, and the device's push subscription.

use super::request::{no_content, ok, path_id, read_json};
use crate::error::{ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::{ToCore, ToWire};
use hyper::{Request, Response};
use kanect_core::{Caller, ConversationId};
use kanect_proto::{NewPushSubscription, PushEndpoint, PushKey, SetDoNotDisturb, SetNotificationLevel};

type Reply = Result<Response<Body>, ApiError>;

/// `GET /notifications`.
pub(super) async fn settings(app: &App, caller: &Caller) -> Reply {
    Ok(ok(&app.chat.notification_settings(caller).await?.to_wire()))
}

/// `PUT /conversations/{id}/notifications`.
pub(crate) async fn set_level(app: &App, caller: &Caller, id: &str, request: Request<RequestBody>) -> Reply {
    let id: ConversationId = path_id(id)?;
    let form: SetNotificationLevel = read_json(request, app.config.max_body_bytes).await?;
    let until = form.until.map(|until| until.to_core());
    Ok(ok(&app.chat.set_notification_level(caller, id, form.level.to_core(), until).await?.to_wire()))
}

/// `PUT /notifications/do-not-disturb`.
pub(crate) async fn set_do_not_disturb(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: SetDoNotDisturb = read_json(request, app.config.max_body_bytes).await?;
    let until = form.until.map(|until| until.to_core());
    Ok(ok(&app.chat.set_do_not_disturb(caller, form.on, until).await?.to_wire()))
}

/// `GET /push/key`.
pub(super) fn push_key(app: &App) -> Reply {
    Ok(ok(&PushKey { public_key: app.chat.push_public_key()? }))
}

/// `POST /push/subscriptions`.
pub(crate) async fn subscribe(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: NewPushSubscription = read_json(request, app.config.max_body_bytes).await?;
    app.chat.subscribe_push(caller, &form.endpoint, &form.keys.p256dh, &form.keys.auth).await?;
    Ok(no_content())
}

/// `DELETE /push/subscriptions`.
pub(crate) async fn unsubscribe(app: &App, caller: &Caller, request: Request<RequestBody>) -> Reply {
    let form: PushEndpoint = read_json(request, app.config.max_body_bytes).await?;
    app.chat.unsubscribe_push(caller, &form.endpoint).await?;
    Ok(no_content())
}
