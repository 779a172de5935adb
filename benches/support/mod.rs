//! Setup shared by the store benchmarks (`store`, `store_size`): an engine that lets senders go
//! as fast as the store acknowledges, and senders each in a direct conversation of their own.

use kanect::{Caller, Chat, ChatConfig, ConversationId, PasswordCost, RateLimits, Registration};

/// The engine's config for a benchmark: cheap password hashes (registering senders is not what
/// is measured) and no rate limits (they are set for people, far below a store's speed).
pub(crate) fn fast_config() -> ChatConfig {
    ChatConfig { password_cost: PasswordCost::INSECURE_FAST, rate_limits: RateLimits::UNLIMITED, ..Default::default() }
}

/// Registers a `sink` user and `count` senders (`sender0`, ...), each in a direct
/// conversation with the sink, and returns every sender with its conversation. Nobody is
/// subscribed, so a send costs its store write and no delivery.
pub(crate) async fn direct_conversations(chat: &Chat, count: usize) -> Vec<(Caller, ConversationId)> {
    let sink = chat.register(Registration::new("sink", "bench password")).await.unwrap();
    let mut senders = Vec::with_capacity(count);
    for i in 0..count {
        let user = chat.register(Registration::new(format!("sender{i}"), "bench password")).await.unwrap();
        let caller = chat.act_as(user.id).await.unwrap();
        let direct = chat.open_direct(&caller, sink.id).await.unwrap().id;
        senders.push((caller, direct));
    }
    senders
}
