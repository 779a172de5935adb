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
//! | (tag 2 only) | the attachments, see below                         |
//!
//! A message that carries attachments has tag [`TAG_WITH_ATTACHMENTS`]: the same fields, then
//! a u16 BE count (at least 1) and that many attachments, each
//!
//! | bytes        | field                                                        |
//! |--------------|--------------------------------------------------------------|
//! | 16           | attachment id                                                |
//! | 8            | size, u64 BE                                                 |
//! | 4 + n        | name: length u32 BE, UTF-8                                   |
//! | 4 + n        | content type: length u32 BE, UTF-8                           |
//! | 4 + n        | SHA-256 (lowercase hex, as the record has it): u32 BE, UTF-8 |
//! | 1 (+ 16)     | 0: not an image; 1: then width, height, thumbnail width and height, u32 BE each |
//!
//! Why a second tag rather than a section every record has: every record written before
//! attachments existed (tag [`TAG`]) stays valid as it is, and a message without attachments,
//! nearly every one, is still written that way, byte for byte, at no extra cost. A build that
//! knows only tag 1 finds a tag-2 record corrupt rather than misreading it; the stores' format
//! versions were bumped with it so that such a build refuses the whole store at open instead
//! (see `sled::format` and `fjall::format`).
//!
//! Decoding checks every length, flag and string and that nothing follows the last field: a
//! record that does not match is [`StoreError::Corrupt`], never a panic. Nor does anything
//! decode that the encoder would not write (a tag 2 with no attachments), so every record has
//! one encoding.

use super::keys;
use super::records::hex;
use kanect_core::{AttachmentId, AttachmentMeta, ImageMeta, Message, MessageId, StoreError, Timestamp, UserId};

/// The first byte of a message record without attachments: which encoding follows.
const TAG: u8 = 1;

/// The first byte of a message record with attachments: [`TAG`]'s fields, then the attachments.
const TAG_WITH_ATTACHMENTS: u8 = 2;

/// Encodes a message's value (its key is [`keys::message`]).
pub(crate) fn encode_message(message: &Message) -> Result<Vec<u8>, StoreError> {
    let client_id = message.client_id.as_bytes();
    let body = message.body.as_bytes();
    let mut out = Vec::with_capacity(55 + client_id.len() + body.len());
    out.push(if message.attachments.is_empty() { TAG } else { TAG_WITH_ATTACHMENTS });
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
    put_text(&mut out, &message.client_id)?;
    put_text(&mut out, &message.body)?;
    if !message.attachments.is_empty() {
        let count = message.attachments.len();
        let count = u16::try_from(count).map_err(|_| StoreError::backend(TooMany(count)))?;
        out.extend_from_slice(&count.to_be_bytes());
        for attachment in &message.attachments {
            put_attachment(&mut out, attachment)?;
        }
    }
    Ok(out)
}

/// Appends one attachment of a tag-2 record.
fn put_attachment(out: &mut Vec<u8>, attachment: &AttachmentMeta) -> Result<(), StoreError> {
    out.extend_from_slice(&attachment.id.to_bytes());
    out.extend_from_slice(&attachment.size.to_be_bytes());
    put_text(out, &attachment.name)?;
    put_text(out, &attachment.content_type)?;
    put_text(out, &attachment.sha256)?;
    match attachment.image {
        Some(image) => {
            out.push(1);
            for dimension in [image.width, image.height, image.thumbnail_width, image.thumbnail_height] {
                out.extend_from_slice(&dimension.to_be_bytes());
            }
        }
        None => out.push(0),
    }
    Ok(())
}

/// Appends a u32 BE length and the text.
fn put_text(out: &mut Vec<u8>, text: &str) -> Result<(), StoreError> {
    let len = u32::try_from(text.len()).map_err(|_| StoreError::backend(TooLong(text.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// A text too long for its u32 length prefix (4 GiB): the engine's limits keep bodies far
/// below it.
#[derive(Debug, thiserror::Error)]
#[error("message text of {0} bytes is too long to store")]
struct TooLong(usize);

/// More attachments than the u16 count holds: the engine's limit
/// ([`ATTACHMENTS_MAX`](kanect_core::validate::ATTACHMENTS_MAX)) keeps messages far below it.
#[derive(Debug, thiserror::Error)]
#[error("a message with {0} attachments is too many to store")]
struct TooMany(usize);

/// Decodes a message record stored under `key`.
pub(crate) fn decode_message(key: &[u8], value: &[u8]) -> Result<Message, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("message at key {}: {why}", hex(key)));
    let (conversation, seq) = keys::parse_message_key(key)?;
    let mut reader = Reader(value);
    let with_attachments = match reader.byte().ok_or_else(|| corrupt("empty record"))? {
        TAG => false,
        TAG_WITH_ATTACHMENTS => true,
        _ => return Err(corrupt("unknown encoding tag")),
    };
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
    let mut attachments = Vec::new();
    if with_attachments {
        let count = u16::from_be_bytes(reader.array().ok_or_else(truncated)?);
        if count == 0 {
            return Err(corrupt("tag 2 without attachments"));
        }
        for _ in 0..count {
            attachments.push(reader.attachment().ok_or_else(|| corrupt("bad attachment"))?);
        }
    }
    if !reader.0.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Message { id, conversation, sender, seq, body, client_id, sent_at, edited_at, deleted, attachments })
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

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    /// One attachment of a tag-2 record.
    fn attachment(&mut self) -> Option<AttachmentMeta> {
        let id = AttachmentId::from_bytes(self.array()?);
        let size = u64::from_be_bytes(self.array()?);
        let name = self.text()?;
        let content_type = self.text()?;
        let sha256 = self.text()?;
        let image = match self.byte()? {
            0 => None,
            1 => Some(ImageMeta {
                width: self.u32()?,
                height: self.u32()?,
                thumbnail_width: self.u32()?,
                thumbnail_height: self.u32()?,
            }),
            _ => return None,
        };
        Some(AttachmentMeta { id, name, size, content_type, sha256, image })
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
            attachments: Vec::new(),
        }
    }

    fn attachment(name: &str, image: Option<ImageMeta>) -> AttachmentMeta {
        AttachmentMeta {
            id: AttachmentId::new(),
            name: name.into(),
            size: u64::MAX,
            content_type: "image/png".into(),
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            image,
        }
    }

    /// A message with two attachments, an image and a file.
    fn with_attachments() -> Message {
        let image = ImageMeta { width: 4000, height: u32::MAX, thumbnail_width: 320, thumbnail_height: 0 };
        Message {
            attachments: vec![attachment("crème.png", Some(image)), attachment("", None)],
            ..message(Some(Timestamp(5)), false)
        }
    }

    /// `hex` as bytes, for records spelt out.
    fn bytes(hex: &str) -> Vec<u8> {
        let hex: String = hex.split_whitespace().collect();
        (0..hex.len()).step_by(2).map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap()).collect()
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
    fn messages_with_attachments_round_trip_in_order() {
        let original = with_attachments();
        let key = keys::message(original.conversation, original.seq);
        let bytes = encode_message(&original).unwrap();
        assert_eq!(bytes[0], TAG_WITH_ATTACHMENTS);
        assert_eq!(decode_message(&key, &bytes).unwrap(), original);
        // Without them, a message is written as before attachments existed, byte for byte.
        let plain = Message { attachments: Vec::new(), ..original };
        assert_eq!(encode_message(&plain).unwrap()[0], TAG);
    }

    #[test]
    fn a_record_written_before_attachments_existed_still_decodes() {
        // A tag-1 record as the previous build wrote it: id 11.., sender 22.., sent at 1000,
        // edited at 5, not deleted, client id "c1", body "hi".
        let key = keys::message(ConversationId::from_bytes([0x33; 16]), Seq(7));
        let record = bytes(
            "01 11111111111111111111111111111111 22222222222222222222222222222222 00000000000003e8
             01 0000000000000005 00 00000002 6331 00000002 6869",
        );
        let message = decode_message(&key, &record).unwrap();
        assert_eq!(message.id, MessageId::from_bytes([0x11; 16]));
        assert_eq!((message.sent_at, message.edited_at, message.deleted), (Timestamp(1000), Some(Timestamp(5)), false));
        assert_eq!((message.client_id.as_str(), message.body.as_str()), ("c1", "hi"));
        assert!(message.attachments.is_empty());
        assert_eq!(encode_message(&message).unwrap(), record, "and is written the same way again");
    }

    #[test]
    fn at_the_count_limit_and_past_it() {
        let mut original = message(None, false);
        original.attachments = (0..u16::MAX).map(|n| attachment(&n.to_string(), None)).collect();
        let key = keys::message(original.conversation, original.seq);
        assert_eq!(decode_message(&key, &encode_message(&original).unwrap()).unwrap(), original);
        original.attachments.push(attachment("one too many", None));
        assert!(matches!(encode_message(&original), Err(StoreError::Backend(_))));
    }

    #[test]
    fn every_truncation_and_bad_byte_is_corrupt_not_a_panic() {
        for original in [message(Some(Timestamp(5)), false), with_attachments()] {
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
        }
        let original = message(Some(Timestamp(5)), false);
        let key = keys::message(original.conversation, original.seq);
        let bytes = encode_message(&original).unwrap();
        let mut bad_tag = bytes.clone();
        bad_tag[0] = 3;
        assert!(matches!(decode_message(&key, &bad_tag), Err(StoreError::Corrupt(m)) if m.contains("tag")));
        // Tag 2 needs at least one attachment: the encoder never writes an empty list so.
        let mut empty_list = bytes.clone();
        empty_list[0] = TAG_WITH_ATTACHMENTS;
        empty_list.extend_from_slice(&0u16.to_be_bytes());
        assert!(matches!(decode_message(&key, &empty_list), Err(StoreError::Corrupt(m)) if m.contains("without")));
        let mut image_flag =
            encode_message(&Message { attachments: vec![attachment("a", None)], ..original.clone() }).unwrap();
        *image_flag.last_mut().unwrap() = 2;
        assert!(matches!(decode_message(&key, &image_flag), Err(StoreError::Corrupt(m)) if m.contains("attachment")));
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
