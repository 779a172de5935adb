//! The export's memory stays flat: dumping a store of some 24 MB into a writer raises the
//! process's allocated bytes by no more than a few pages' worth, whichever export writes it.
//!
//! Measured with a counting global allocator (bytes allocated and not yet freed), read at every
//! write the export makes: the most seen is what the export held, a page of records and the
//! line being written, at that point. The allocator is the whole process's, which is why this
//! test has a binary of its own and runs alone in it.

use cap::Cap;
use kanect_core::backend::{ConversationStore, MessageStore, UserStore};
use kanect_core::testing::{group, new_message, user};
use kanect_core::MemoryStore;
use kanect_store::backup;
use std::alloc::System;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Counts the bytes allocated and not yet freed.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Conversations, and messages in each, of [`BODY`] bytes: a dump of ~24 MB.
const CONVERSATIONS: usize = 12;
const MESSAGES: usize = 1_000;
const BODY: usize = 2_000;

/// The most the export may allocate above what was live when it began: a page of messages
/// (200 of them, ~400 KB) as the store hands it over, with room to spare, and far below the
/// dump.
const BOUND: usize = 4 * 1024 * 1024;

/// Keeps nothing it is given, but counts it, and the most bytes allocated at any write.
#[derive(Default)]
struct Watching {
    written: u64,
    most_allocated: usize,
}

impl Watching {
    fn take(&mut self, bytes: &[u8]) -> usize {
        self.written += bytes.len() as u64;
        self.most_allocated = self.most_allocated.max(ALLOCATOR.allocated());
        bytes.len()
    }
}

impl std::io::Write for Watching {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        Ok(self.take(bytes))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncWrite for Watching {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().take(bytes)))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_export_allocates_a_page_not_the_dump() {
    let store = MemoryStore::new();
    let alice = user("alice");
    store.insert_user(&alice, "h").await.unwrap();
    let body = "m".repeat(BODY);
    for _ in 0..CONVERSATIONS {
        let conversation = group(&[alice.id]);
        store.insert_conversation(&conversation).await.unwrap();
        for i in 0..MESSAGES {
            store.append_message(new_message(conversation.id, alice.id, &i.to_string(), &body)).await.unwrap();
        }
    }
    let dump_bytes = (CONVERSATIONS * MESSAGES * BODY) as u64;

    // The async export, then the blocking one, into writers that keep nothing.
    let before = ALLOCATOR.allocated();
    let mut watching = Watching::default();
    let counts = backup::export_async(&store, &mut watching).await.unwrap();
    assert_eq!(counts.messages, (CONVERSATIONS * MESSAGES) as u64);
    assert!(watching.written > dump_bytes);
    let held = watching.most_allocated.saturating_sub(before);
    assert!(held < BOUND, "export_async held {held} bytes for a dump of {}", watching.written);

    let before = ALLOCATOR.allocated();
    let mut watching = Watching::default();
    backup::export(&store, &mut watching).await.unwrap();
    let held = watching.most_allocated.saturating_sub(before);
    assert!(held < BOUND, "export held {held} bytes for a dump of {}", watching.written);
}
