//! Kanect mounted in an axum application: the app keeps its own pages (`/`, `/login`) and its
//! own log-in, and serves Kanect's whole API under `/chat` for its users.
//!
//! The app decides who is logged in (here, a cookie of its own) and tells Kanect with a
//! `Caller` from `Chat::act_as` in the request's extensions; Kanect's own accounts exist only
//! because messages need an author (each is registered once, with a password nobody uses).
//!
//! `cargo run --example axum_app`, then:
//! ```text
//! curl -c jar -d 'username=alice&password=alice-secret' localhost:3000/login
//! curl -b jar localhost:3000/chat/api/v1/me
//! ```

use axum::extract::{ConnectInfo, Form, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kanect::http::{HttpConfig, KanectService, PeerAddress};
use kanect::{Chat, MemoryStore, Registration, UserId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The application's own state: its users, its sessions, and the Kanect engine.
#[derive(Clone)]
struct AppState {
    chat: Chat,
    /// The app's user table: name → (password, the user's Kanect id). A real app checks a
    /// password hash in its own database.
    users: Arc<HashMap<String, (String, UserId)>>,
    /// The app's sessions: cookie value → user name.
    sessions: Arc<Mutex<HashMap<String, String>>>,
}

/// The app's session cookie (not Kanect's).
const SESSION_COOKIE: &str = "app_session";

/// The application: its pages, and Kanect at `/chat`, for the users in `users` (name,
/// password), who are given Kanect accounts.
pub(crate) async fn app(chat: Chat, users: &[(&str, &str)]) -> Result<Router, kanect::Error> {
    let mut table = HashMap::new();
    for &(name, password) in users {
        // The Kanect password is never used: the app logs its users in itself.
        let unused = uuid::Uuid::new_v4().simple().to_string();
        let user = chat.register(Registration::new(name, &unused)).await?;
        table.insert(name.to_string(), (password.to_string(), user.id));
    }
    let state = AppState { chat: chat.clone(), users: Arc::new(table), sessions: Arc::default() };

    let kanect = KanectService::builder(chat, HttpConfig::default()).mounted_at("/chat").build();
    // The whole path goes to Kanect (`nest_service` would strip the prefix, which Kanect
    // strips itself, knowing where it is mounted).
    let chat_routes = Router::new()
        .route_service("/chat", kanect.clone())
        .route_service("/chat/{*rest}", kanect)
        .layer(middleware::from_fn_with_state(state.clone(), as_app_user));
    Ok(Router::new().route("/", get(home)).route("/login", post(login)).merge(chat_routes).with_state(state))
}

/// Who the app's session cookie says the caller is, if anyone.
fn session_user(state: &AppState, request: &Request) -> Option<UserId> {
    let cookies = request.headers().get_all(COOKIE).into_iter().filter_map(|value| value.to_str().ok());
    let token = cookies
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())?;
    let name = state.sessions.lock().unwrap().get(&token).cloned()?;
    state.users.get(&name).map(|(_, user)| *user)
}

/// The middleware in front of Kanect: the app's user acts in Kanect as themselves, and the
/// client's address is passed on for Kanect's per-address limits. A request without the app's
/// session goes on as it is: Kanect answers it `401` (or serves it to a Kanect token).
async fn as_app_user(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(PeerAddress(peer.ip()));
    if let Some(user) = session_user(&state, &request) {
        match state.chat.act_as(user).await {
            Ok(caller) => drop(request.extensions_mut().insert(caller)),
            // A user removed from Kanect since: not in the chat any more.
            Err(_) => return StatusCode::FORBIDDEN.into_response(),
        }
    }
    next.run(request).await
}

/// `GET /`: the app's own page.
async fn home(State(state): State<AppState>, request: Request) -> String {
    match session_user(&state, &request) {
        Some(_) => "Welcome back. Your chat is at /chat/api/v1/.".to_owned(),
        None => "Hello, stranger: POST /login first.".to_owned(),
    }
}

/// The form of `POST /login`.
#[derive(serde::Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

/// `POST /login`: the app's own log-in, which starts the app's own session.
async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    match state.users.get(&form.username) {
        Some((password, _)) if *password == form.password => {
            let token = uuid::Uuid::new_v4().simple().to_string();
            state.sessions.lock().unwrap().insert(token.clone(), form.username);
            let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
            ([(SET_COOKIE, cookie)], "logged in").into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, "wrong name or password").into_response(),
    }
}

#[tokio::main]
#[allow(dead_code)] // the test includes this file for `app` alone
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chat = Chat::builder(MemoryStore::new()).build().await?;
    let app = app(chat, &[("alice", "alice-secret"), ("bob", "bob-secret")]).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
