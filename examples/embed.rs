//! Embedding Kanect: two users, a direct conversation, and a live subscription.
//!
//! `cargo run --example embed`

use kanect::{Chat, ChatConfig, Event, MemoryStore, Registration};

#[tokio::main]
async fn main() -> Result<(), kanect::Error> {
    let chat = Chat::builder(MemoryStore::new()).config(ChatConfig::default()).build().await?;
    chat.register(Registration::new("alice", "correct horse")).await?;
    let bob = chat.register(Registration::new("bob", "battery staple")).await?;

    // Log Alice in as a client would; act for Bob as an app that authenticated him itself.
    let login = chat.login("alice", "correct horse").await?;
    let alice = chat.authenticate(login.token.as_str()).await?;
    let bob = chat.act_as(bob.id).await?;

    // Bob's device listens; clicking a name opens the direct conversation.
    let mut bobs_phone = chat.subscribe(&bob).await?;
    let direct = chat.open_direct(&alice, bob.user()).await?;

    let sent = chat.send(&alice, direct.id, "msg-1", "Hi Bob! Lunch?").await?;
    println!("alice -> bob   seq {} acknowledged", sent.seq);

    while let Some(delivery) = bobs_phone.next().await {
        if let Event::Message { message } = delivery.event() {
            println!("bob's phone    got seq {}: {:?}", message.seq, message.body);
            let reply = chat.send(&bob, direct.id, "msg-1", "Sure, 12:30.").await?;
            println!("bob -> alice   seq {} acknowledged", reply.seq);
            break;
        }
    }
    Ok(())
}
