//! Conformance cases of [`SecretStore`](crate::backend::SecretStore).

use crate::store::Store;
use std::sync::Arc;

/// A secret is stored once: a second init keeps and returns the first value; all are listed.
pub async fn secrets_are_written_once<S: Store>(store: Arc<S>) {
    assert_eq!(store.server_secret("vapid").await.unwrap(), None);
    assert_eq!(store.init_server_secret("vapid", b"first").await.unwrap(), b"first");
    assert_eq!(store.init_server_secret("vapid", b"second").await.unwrap(), b"first");
    assert_eq!(store.server_secret("vapid").await.unwrap().as_deref(), Some(&b"first"[..]));
    store.init_server_secret("other", &[0, 255]).await.unwrap();
    let all = store.server_secrets().await.unwrap();
    assert_eq!(all, vec![("other".to_string(), vec![0, 255]), ("vapid".to_string(), b"first".to_vec())]);
}

/// Of many nodes initializing one secret at once, every one gets the same value.
pub async fn concurrent_inits_agree<S: Store>(store: Arc<S>) {
    let tasks: Vec<_> = (0..8u8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.init_server_secret("race", &[n]).await.unwrap() })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    values.dedup();
    assert_eq!(values.len(), 1, "{values:?}");
    assert_eq!(store.server_secret("race").await.unwrap(), Some(values[0].clone()));
}
