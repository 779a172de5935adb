//! The binary encoding of message records (sled's since its format version 2; fjall's from
//! the start).
//!
//! Messages are the one record written on the hot path, and the engines pay for every byte of
//! them (sled copies, serialises and re-splits its nodes by size; fjall writes them to its
//! journal and again to its tables), so they are not JSON like the other records: a message is about a quarter of its JSON size. The conversation and
//! seq are not stored: they are the record's key ([`keys::message`]).
//!
//! | bytes        | field                                              |
//! |--------------|----------------------------------------------------|
//! | 1            | encoding tag, [`TAG`]                              |
//! | 16           | message id                                         |
//! | 16           | sender id                                          |
//! | 8            | `sent_at`, u64 BE                                  |
//! | 1 (+ 8)      | 0: not edited; 1: edited, then `edited_at` u64 BE  |
//! | 1            | deleted: 0 or 1                                    |
//! | 4 + n        | client id: length u32 BE, UTF-8                    |
//! | 4 + n        | body: length u32 BE, UTF-8                         |
//!
//! Decoding checks every length, flag and string and that nothing follows the body: a record
//! that does not match is [`StoreError::Corrupt`], never a panic.

use super::keys;
use super::records::hex;
use kanect_core::{Message, MessageId, StoreError, Timestamp, UserId};

/// The first byte of every message record: which encoding follows.
const TAG: u8 = 1;

/// Encodes a message's value (its key is [`keys::message`]).
pub(crate) fn encode_message(message: &Message) -> Result<Vec<u8>, StoreError> {
    let client_id = message.client_id.as_bytes();
    let body = message.body.as_bytes();
    let mut out = Vec::with_capacity(55 + client_id.len() + body.len());
    out.push(TAG);
    out.extend_from_slice(&message.id.to_bytes());
    out.extend_from_slice(&message.sender.to_bytes());
    out.extend_from_slice(&message.sent_at.0.to_be_bytes());
    match message.edited_at {
        Some(at) => {
            out.push(1);
            out.extend_from_slice(&at.0.to_be_bytes());
        }
        None => out.push(0),
    }
    out.push(u8::from(message.deleted));
    for text in [client_id, body] {
        let len = u32::try_from(text.len()).map_err(|_| StoreError::backend(TooLong(text.len())))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(text);
    }
    Ok(out)
}

/// A text too long for its u32 length prefix (4 GiB): the engine's limits keep bodies far
/// below it.
#[derive(Debug, thiserror::Error)]
#[error("message text of {0} bytes is too long to store")]
struct TooLong(usize);

/// Decodes a message record stored under `key`.
pub(crate) fn decode_message(key: &[u8], value: &[u8]) -> Result<Message, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("message at key {}: {why}", hex(key)));
    let (conversation, seq) = keys::parse_message_key(key)?;
    let mut reader = Reader(value);
    if reader.byte().ok_or_else(|| corrupt("empty record"))? != TAG {
        return Err(corrupt("unknown encoding tag"));
    }
    let truncated = || corrupt("truncated record");
    let id = MessageId::from_bytes(reader.array().ok_or_else(truncated)?);
    let sender = UserId::from_bytes(reader.array().ok_or_else(truncated)?);
    let sent_at = Timestamp(u64::from_be_bytes(reader.array().ok_or_else(truncated)?));
    let edited_at = match reader.byte().ok_or_else(truncated)? {
        0 => None,
        1 => Some(Timestamp(u64::from_be_bytes(reader.array().ok_or_else(truncated)?))),
        _ => return Err(corrupt("bad edited flag")),
    };
    let deleted = match reader.byte().ok_or_else(truncated)? {
        0 => false,
        1 => true,
        _ => return Err(corrupt("bad deleted flag")),
    };
    let client_id = reader.text().ok_or_else(|| corrupt("bad client id"))?;
    let body = reader.text().ok_or_else(|| corrupt("bad body"))?;
    if !reader.0.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Message { id, conversation, sender, seq, body, client_id, sent_at, edited_at, deleted })
}

/// The undecoded rest of a record.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A u32 BE length and that many bytes of UTF-8.
    fn text(&mut self) -> Option<String> {
        let len = usize::try_from(u32::from_be_bytes(self.array()?)).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::{ConversationId, Seq};

    fn message(edited_at: Option<Timestamp>, deleted: bool) -> Message {
        Message {
            id: MessageId::new(),
            conversation: ConversationId::new(),
            sender: UserId::new(),
            seq: Seq(7),
            body: "héllo, wörld".into(),
            client_id: "client-1".into(),
            sent_at: Timestamp(1_700_000_000_123),
            edited_at,
            deleted,
        }
    }

    #[test]
    fn messages_round_trip_with_conversation_and_seq_from_the_key() {
        for (edited_at, deleted) in [(None, false), (Some(Timestamp(5)), false), (Some(Timestamp(9)), true)] {
            let original = message(edited_at, deleted);
            let key = keys::message(original.conversation, original.seq);
            let bytes = encode_message(&original).unwrap();
            assert_eq!(decode_message(&key, &bytes).unwrap(), original);
        }
        let empty = Message { body: String::new(), client_id: String::new(), ..message(None, true) };
        let key = keys::message(empty.conversation, empty.seq);
        assert_eq!(decode_message(&key, &encode_message(&empty).unwrap()).unwrap(), empty);
    }

    #[test]
    fn every_truncation_and_bad_byte_is_corrupt_not_a_panic() {
        let original = message(Some(Timestamp(5)), false);
        let key = keys::message(original.conversation, original.seq);
        let bytes = encode_message(&original).unwrap();
        for len in 0..bytes.len() {
            assert!(matches!(decode_message(&key, &bytes[..len]), Err(StoreError::Corrupt(_))), "prefix {len}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(decode_message(&key, &trailing), Err(StoreError::Corrupt(_))));
        // Flip each byte: the result is either another valid message or Corrupt, never a panic.
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0xff;
            let _ = decode_message(&key, &flipped);
        }
        let mut bad_tag = bytes.clone();
        bad_tag[0] = 2;
        assert!(matches!(decode_message(&key, &bad_tag), Err(StoreError::Corrupt(m)) if m.contains("tag")));
        let mut huge_length = bytes;
        huge_length[51..55].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode_message(&key, &huge_length), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode_message(&key[..20], &encode_message(&original).unwrap()), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn json_records_of_format_1_do_not_decode() {
        let original = message(None, false);
        let key = keys::message(original.conversation, original.seq);
        let json = serde_json::to_vec(&original).unwrap();
        assert!(matches!(decode_message(&key, &json), Err(StoreError::Corrupt(_))));
    }
}
