//! Conformance cases of [`AttachmentStore`](crate::backend::AttachmentStore), and of the
//! attachments a message record carries through [`MessageStore`](crate::backend::MessageStore).

use crate::id::{AttachmentId, ConversationId, MessageId, UserId};
use crate::model::{MessageRef, Timestamp};
use crate::store::{ClaimRefused, Store};
use crate::testing::{attachment, group, new_message, user};
use std::sync::Arc;

fn at(message: MessageId) -> MessageRef {
    MessageRef { conversation: ConversationId::new(), message }
}

/// A claim's `fresh_since` under which no upload has expired.
const EPOCH: Timestamp = Timestamp(0);

/// Records come back as inserted, page in id order, and are deleted once.
pub async fn attachments_round_trip_and_page_in_id_order<S: Store>(store: Arc<S>) {
    let owner = UserId::new();
    let mut inserted = Vec::new();
    for size in [0, 1, 25 * 1024 * 1024] {
        let record = attachment(owner, size);
        store.insert_attachment(&record).await.unwrap();
        inserted.push(record);
    }
    for record in &inserted {
        assert_eq!(store.attachment(record.meta.id).await.unwrap().as_ref(), Some(record));
    }
    assert_eq!(store.attachment(AttachmentId::new()).await.unwrap(), None);
    let first = store.attachments_after(None, 2).await.unwrap();
    assert_eq!(first, inserted[..2]);
    assert_eq!(store.attachments_after(Some(first[1].meta.id), 10).await.unwrap(), inserted[2..]);
    assert!(store.delete_attachment(inserted[1].meta.id).await.unwrap());
    assert!(!store.delete_attachment(inserted[1].meta.id).await.unwrap());
    assert_eq!(store.attachment(inserted[1].meta.id).await.unwrap(), None);
    assert_eq!(store.attachments_after(None, 10).await.unwrap(), [inserted[0].clone(), inserted[2].clone()]);
}

/// Inserting a record under an id that has one replaces it (the engine inserts an upload's
/// record before its bytes, and again once it is complete), usage included.
pub async fn an_insert_replaces_the_record<S: Store>(store: Arc<S>) {
    let owner = UserId::new();
    let mut record = attachment(owner, 0);
    store.insert_attachment(&record).await.unwrap();
    record.meta.size = 4_000;
    record.meta.content_type = "image/png".into();
    record.meta.image =
        Some(crate::model::ImageMeta { width: 40, height: 30, thumbnail_width: 40, thumbnail_height: 30 });
    record.thumbnail_size = 500;
    store.insert_attachment(&record).await.unwrap();
    assert_eq!(store.attachment(record.meta.id).await.unwrap(), Some(record.clone()));
    assert_eq!(store.attachments_after(None, 10).await.unwrap(), [record]);
    assert_eq!(store.attachment_usage(owner).await.unwrap(), 4_500);
}

/// A claim takes every id or none: an unknown id, another user's, or one another message
/// carries refuses the whole claim, and nothing changes; the same message claiming again (a
/// resend) succeeds.
pub async fn claims_take_all_or_nothing<S: Store>(store: Arc<S>) {
    let (owner, other) = (UserId::new(), UserId::new());
    let [a, b, c] = [attachment(owner, 10), attachment(owner, 20), attachment(owner, 30)];
    let theirs = attachment(other, 40);
    for record in [&a, &b, &c, &theirs] {
        store.insert_attachment(record).await.unwrap();
    }
    let (first, second) = (at(MessageId::new()), at(MessageId::new()));

    let claimed = store.claim_attachments(&[b.meta.id, a.meta.id], owner, first, EPOCH).await.unwrap().unwrap();
    assert_eq!(claimed.iter().map(|r| r.meta.id).collect::<Vec<_>>(), [b.meta.id, a.meta.id], "in the order given");
    assert!(claimed.iter().all(|r| r.message == Some(first) && r.owner == owner));
    assert_eq!(store.attachment(a.meta.id).await.unwrap().unwrap().message, Some(first));
    // The same message again: a resend.
    assert_eq!(store.claim_attachments(&[b.meta.id, a.meta.id], owner, first, EPOCH).await.unwrap().unwrap(), claimed);

    let refusals = [
        (vec![c.meta.id, a.meta.id], owner, ClaimRefused::Taken(a.meta.id)),
        (vec![c.meta.id, theirs.meta.id], owner, ClaimRefused::NotFound(theirs.meta.id)),
        (vec![c.meta.id], other, ClaimRefused::NotFound(c.meta.id)),
    ];
    for (ids, by, refused) in refusals {
        assert_eq!(store.claim_attachments(&ids, by, second, EPOCH).await.unwrap(), Err(refused));
    }
    let unknown = AttachmentId::new();
    assert_eq!(
        store.claim_attachments(&[c.meta.id, unknown], owner, second, EPOCH).await.unwrap(),
        Err(ClaimRefused::NotFound(unknown))
    );
    assert_eq!(store.attachment(c.meta.id).await.unwrap().unwrap().message, None, "a refused claim changes nothing");
    assert_eq!(store.attachment(theirs.meta.id).await.unwrap().unwrap().message, None);
}

/// An unclaimed upload older than the claim's `fresh_since` has expired: it is refused as
/// unknown (the sweep may be deleting it) and nothing changes; one exactly as old is claimed,
/// and a claim by the message that already carries it (a resend) is not refused for its age.
pub async fn expired_uploads_are_not_claimed<S: Store>(store: Arc<S>) {
    let owner = UserId::new();
    let (fresh, other) = (attachment(owner, 10), attachment(owner, 20));
    store.insert_attachment(&other).await.unwrap();
    store.insert_attachment(&fresh).await.unwrap();
    let uploaded = fresh.uploaded_at;
    let message = at(MessageId::new());
    let past_it = Timestamp(uploaded.0 + 1);
    assert_eq!(
        store.claim_attachments(&[fresh.meta.id, other.meta.id], owner, message, past_it).await.unwrap(),
        Err(ClaimRefused::NotFound(fresh.meta.id))
    );
    assert_eq!(store.attachment(fresh.meta.id).await.unwrap().unwrap().message, None, "nothing claimed");
    let claimed = store.claim_attachments(&[fresh.meta.id], owner, message, uploaded).await.unwrap().unwrap();
    assert_eq!(claimed[0].message, Some(message), "at the limit it is still fresh");
    let much_later = Timestamp(uploaded.0 + 365 * 24 * 3600 * 1000);
    assert_eq!(store.claim_attachments(&[fresh.meta.id], owner, message, much_later).await.unwrap().unwrap(), claimed);
}

/// Of many messages claiming one attachment at once, exactly one gets it.
pub async fn concurrent_claims_have_one_winner<S: Store>(store: Arc<S>) {
    let owner = UserId::new();
    let record = attachment(owner, 5);
    store.insert_attachment(&record).await.unwrap();
    let claims = (0..16).map(|_| {
        let store = store.clone();
        let id = record.meta.id;
        tokio::spawn(async move {
            let message = at(MessageId::new());
            (message, store.claim_attachments(&[id], owner, message, EPOCH).await.unwrap())
        })
    });
    let mut winners = Vec::new();
    for claim in claims.collect::<Vec<_>>() {
        let (message, outcome) = claim.await.unwrap();
        match outcome {
            Ok(_) => winners.push(message),
            Err(refused) => assert_eq!(refused, ClaimRefused::Taken(record.meta.id)),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(store.attachment(record.meta.id).await.unwrap().unwrap().message, Some(winners[0]));
}

/// An owner's usage sums their files and thumbnails, and only theirs.
pub async fn usage_counts_an_owners_bytes<S: Store>(store: Arc<S>) {
    let (owner, other) = (UserId::new(), UserId::new());
    assert_eq!(store.attachment_usage(owner).await.unwrap(), 0);
    let mut image = attachment(owner, 1_000);
    image.thumbnail_size = 300;
    let file = attachment(owner, 50);
    for record in [&image, &file, &attachment(other, 7)] {
        store.insert_attachment(record).await.unwrap();
    }
    assert_eq!(store.attachment_usage(owner).await.unwrap(), 1_350);
    assert_eq!(store.attachment_usage(other).await.unwrap(), 7);
    store.delete_attachment(image.meta.id).await.unwrap();
    assert_eq!(store.attachment_usage(owner).await.unwrap(), 50);
}

/// A message keeps the attachments it was appended with, through reads and history, and a
/// replace (a deletion) can empty them.
pub async fn messages_keep_their_attachments<S: Store>(store: Arc<S>) {
    let alice = user("alice");
    store.insert_user(&alice, "h").await.unwrap();
    let conversation = group(&[alice.id]);
    store.insert_conversation(&conversation).await.unwrap();
    let mut image = attachment(alice.id, 1_000);
    image.meta.image =
        Some(crate::model::ImageMeta { width: 4000, height: 3000, thumbnail_width: 320, thumbnail_height: 240 });
    let file = attachment(alice.id, 20);
    let mut new = new_message(conversation.id, alice.id, "c1", "");
    new.attachments = vec![image.meta.clone(), file.meta.clone()];
    let stored = store.append_message(new.clone()).await.unwrap().message().clone();
    assert_eq!(stored.attachments, new.attachments);
    assert_eq!(store.message(stored.id).await.unwrap().unwrap().attachments, new.attachments);
    let page = store.history(conversation.id, crate::store::HistoryPage::Latest, 10).await.unwrap();
    assert_eq!(page[0].attachments, new.attachments);
    // A resend returns the original, attachments and all.
    assert_eq!(store.append_message(new).await.unwrap().message().attachments, stored.attachments);

    let mut deleted = stored.clone();
    deleted.deleted = true;
    deleted.attachments.clear();
    assert!(store.replace_message(&deleted).await.unwrap());
    assert!(store.message(stored.id).await.unwrap().unwrap().attachments.is_empty());
}
