//! Conformance cases of [`AdminStore`](crate::backend::AdminStore).

use crate::id::{AuditId, UserId};
use crate::model::{AuditEntry, Timestamp};
use crate::store::Store;
use crate::testing::{group, new_message, user};
use std::sync::Arc;

/// The audit log returns entries newest first and pages with `before`.
pub async fn audit_log_pages_newest_first<S: Store>(store: Arc<S>) {
    let actor = UserId::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let entry = AuditEntry {
            id: AuditId::new(),
            at: Timestamp(i),
            actor,
            action: "user.disable".into(),
            target: format!("target-{i}"),
            detail: (i % 2 == 0).then(|| "detail".to_string()),
        };
        store.append_audit(&entry).await.unwrap();
        ids.push(entry.id);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let page = store.audit_log(None, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["target-4", "target-3"]);
    assert_eq!(page[0].detail.as_deref(), Some("detail"));
    let next = store.audit_log(Some(page[1].id), 10).await.unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[2], ids[1], ids[0]]);
}

/// Stats count users, conversations and messages.
pub async fn stats_count_everything<S: Store>(store: Arc<S>) {
    let a = user("erin");
    store.insert_user(&a, "h").await.unwrap();
    let conversation = group(&[a.id]);
    store.insert_conversation(&conversation).await.unwrap();
    for i in 0..3 {
        store.append_message(new_message(conversation.id, a.id, &format!("c{i}"), "x")).await.unwrap();
    }
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.users, stats.conversations, stats.messages), (1, 1, 3));
    store.flush().await.unwrap();
}
