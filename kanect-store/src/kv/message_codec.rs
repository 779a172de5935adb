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
//! A message that replies to another, mentions members or carries reactions has tag
//! [`TAG_EXTENDED`]: [`TAG`]'s fields, then a u16 BE attachment count (0 allowed) and the
//! attachments as above, then
//!
//! | bytes        | field                                                        |
//! |--------------|--------------------------------------------------------------|
//! | 1 (+ 8)      | 0: no reply; 1: then the original's seq, u64 BE              |
//! | 2 + 16 n     | mentions: u16 BE count, then each user id                    |
//! | 2 + ...      | reactions: u16 BE count, then each: the emoji (u32 BE length, UTF-8), a u16 BE count (at least 1) and each user id |
//! | 1 (+ 4 + n)  | 0: written by a member; 1: a system line, then its `GroupEvent` as JSON (u32 BE length, UTF-8) |
//!
//! and at least one of the four is there (a record without any is written with tag 1 or 2).
//! System lines are rare and small, so their event is JSON: readable, and new kinds of event
//! need no new layout.
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
use kanect_core::{
    AttachmentId, AttachmentMeta, GroupEvent, ImageMeta, Message, MessageId, Reaction, Seq, StoreError, Timestamp,
    UserId,
};

/// The first byte of a message record without attachments: which encoding follows.
const TAG: u8 = 1;

/// The first byte of a message record with attachments: [`TAG`]'s fields, then the attachments.
const TAG_WITH_ATTACHMENTS: u8 = 2;

/// The first byte of a message record that replies, mentions, carries reactions or is a system
/// line: [`TAG`]'s fields, the attachments (perhaps none), then those.
const TAG_EXTENDED: u8 = 3;

/// Whether `message` needs [`TAG_EXTENDED`].
fn is_extended(message: &Message) -> bool {
    message.reply_to.is_some()
        || !message.mentions.is_empty()
        || !message.reactions.is_empty()
        || message.event.is_some()
}

/// Encodes a message's value (its key is [`keys::message`]).
pub(crate) fn encode_message(message: &Message) -> Result<Vec<u8>, StoreError> {
    let client_id = message.client_id.as_bytes();
    let body = message.body.as_bytes();
    let mut out = Vec::with_capacity(55 + client_id.len() + body.len());
    let extended = is_extended(message);
    out.push(match (extended, message.attachments.is_empty()) {
        (true, _) => TAG_EXTENDED,
        (false, true) => TAG,
        (false, false) => TAG_WITH_ATTACHMENTS,
    });
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
    if extended || !message.attachments.is_empty() {
        put_count(&mut out, message.attachments.len())?;
        for attachment in &message.attachments {
            put_attachment(&mut out, attachment)?;
        }
    }
    if extended {
        put_extensions(&mut out, message)?;
    }
    Ok(out)
}

/// Appends what [`TAG_EXTENDED`] adds: the reply, the mentions, the reactions.
fn put_extensions(out: &mut Vec<u8>, message: &Message) -> Result<(), StoreError> {
    match message.reply_to {
        Some(seq) => {
            out.push(1);
            out.extend_from_slice(&seq.0.to_be_bytes());
        }
        None => out.push(0),
    }
    put_count(out, message.mentions.len())?;
    for user in &message.mentions {
        out.extend_from_slice(&user.to_bytes());
    }
    put_count(out, message.reactions.len())?;
    for reaction in &message.reactions {
        put_text(out, &reaction.emoji)?;
        put_count(out, reaction.users.len())?;
        for user in &reaction.users {
            out.extend_from_slice(&user.to_bytes());
        }
    }
    match &message.event {
        Some(event) => {
            out.push(1);
            let json = serde_json::to_string(event).map_err(StoreError::backend)?;
            put_text(out, &json)?;
        }
        None => out.push(0),
    }
    Ok(())
}

/// Appends a u16 BE count.
fn put_count(out: &mut Vec<u8>, count: usize) -> Result<(), StoreError> {
    let count = u16::try_from(count).map_err(|_| StoreError::backend(TooMany(count)))?;
    out.extend_from_slice(&count.to_be_bytes());
    Ok(())
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

/// More attachments, mentions, reactions or reacting users than a u16 count holds: the
/// engine's limits (attachments, mentions and reactions per message, group members) keep
/// messages far below it.
#[derive(Debug, thiserror::Error)]
#[error("a message with a list of {0} items is too long to store")]
struct TooMany(usize);

/// Decodes a message record stored under `key`.
pub(crate) fn decode_message(key: &[u8], value: &[u8]) -> Result<Message, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("message at key {}: {why}", hex(key)));
    let (conversation, seq) = keys::parse_message_key(key)?;
    let mut reader = Reader(value);
    let tag = reader.byte().ok_or_else(|| corrupt("empty record"))?;
    if ![TAG, TAG_WITH_ATTACHMENTS, TAG_EXTENDED].contains(&tag) {
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
    let mut message = Message {
        id,
        conversation,
        sender,
        seq,
        body,
        client_id,
        sent_at,
        edited_at,
        deleted,
        attachments: Vec::new(),
        reply_to: None,
        reply: None,
        mentions: Vec::new(),
        reactions: Vec::new(),
        event: None,
    };
    if tag != TAG {
        let count = u16::from_be_bytes(reader.array().ok_or_else(truncated)?);
        if count == 0 && tag == TAG_WITH_ATTACHMENTS {
            return Err(corrupt("tag 2 without attachments"));
        }
        for _ in 0..count {
            message.attachments.push(reader.attachment().ok_or_else(|| corrupt("bad attachment"))?);
        }
    }
    if tag == TAG_EXTENDED {
        reader.extensions(&mut message).ok_or_else(|| corrupt("bad reply, mentions, reactions or event"))?;
        if !is_extended(&message) {
            return Err(corrupt("tag 3 without reply, mentions, reactions or event"));
        }
    }
    if !reader.0.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(message)
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

    /// A u16 BE count.
    fn count(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    /// A user id.
    fn user(&mut self) -> Option<UserId> {
        Some(UserId::from_bytes(self.array()?))
    }

    /// What a tag-3 record has after its attachments, into `message`.
    fn extensions(&mut self, message: &mut Message) -> Option<()> {
        message.reply_to = match self.byte()? {
            0 => None,
            1 => Some(Seq(u64::from_be_bytes(self.array()?))),
            _ => return None,
        };
        for _ in 0..self.count()? {
            message.mentions.push(self.user()?);
        }
        for _ in 0..self.count()? {
            let emoji = self.text().filter(|emoji| !emoji.is_empty())?;
            let users = (0..self.count().filter(|&n| n > 0)?).map(|_| self.user()).collect::<Option<Vec<_>>>()?;
            message.reactions.push(Reaction { emoji, users });
        }
        message.event = match self.byte()? {
            0 => None,
            1 => {
                // Only the JSON the encoder writes (no other spacing or key order): every
                // record has one encoding.
                let json = self.text()?;
                let event: GroupEvent = serde_json::from_str(&json).ok()?;
                (serde_json::to_string(&event).ok()? == json).then_some(event)
            }
            _ => return None,
        };
        Some(())
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
    use kanect_core::{ConversationId, GroupEvent};

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
            reply_to: None,
            reply: None,
            mentions: Vec::new(),
            reactions: Vec::new(),
            event: None,
        }
    }

    /// A reply that mentions two members and carries two reactions.
    fn extended(attachments: Vec<AttachmentMeta>) -> Message {
        let (a, b) = (UserId::new(), UserId::new());
        Message {
            reply_to: Some(Seq(3)),
            mentions: vec![a, b],
            reactions: vec![
                Reaction { emoji: "👍🏽".into(), users: vec![b, a] },
                Reaction { emoji: "🎉".into(), users: vec![a] },
            ],
            attachments,
            ..message(Some(Timestamp(5)), false)
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
    fn replies_mentions_and_reactions_round_trip_with_and_without_attachments() {
        for original in [extended(Vec::new()), extended(with_attachments().attachments)] {
            let key = keys::message(original.conversation, original.seq);
            let bytes = encode_message(&original).unwrap();
            assert_eq!(bytes[0], TAG_EXTENDED);
            assert_eq!(decode_message(&key, &bytes).unwrap(), original);
        }
        // Each of the three alone makes a record extended.
        let only_reply = Message { reply_to: Some(Seq(1)), ..message(None, false) };
        let only_mention = Message { mentions: vec![UserId::new()], ..message(None, false) };
        let only_reaction = Message { reactions: extended(Vec::new()).reactions, ..message(None, false) };
        let system_line = Message {
            body: String::new(),
            event: Some(GroupEvent::Renamed { name: "Lunch «crew»".into() }),
            ..message(None, false)
        };
        for original in [only_reply, only_mention, only_reaction, system_line] {
            let key = keys::message(original.conversation, original.seq);
            let bytes = encode_message(&original).unwrap();
            assert_eq!(bytes[0], TAG_EXTENDED);
            assert_eq!(decode_message(&key, &bytes).unwrap(), original);
        }
        // A tag-3 record with none of them has another encoding: it is corrupt.
        let plain = message(None, false);
        let key = keys::message(plain.conversation, plain.seq);
        let mut record = encode_message(&plain).unwrap();
        record[0] = TAG_EXTENDED;
        record.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(decode_message(&key, &record), Err(StoreError::Corrupt(m)) if m.contains("tag 3")));
        // An event as other JSON than the encoder's (spacing, key order) is corrupt too.
        let line = Message { body: String::new(), event: Some(GroupEvent::Left), ..message(None, false) };
        let written = encode_message(&line).unwrap();
        let json = br#"{"kind":"left"}"#;
        assert!(written.ends_with(json));
        let mut spaced = written[..written.len() - json.len() - 4].to_vec();
        let other = br#"{ "kind": "left" }"#;
        spaced.extend_from_slice(&(other.len() as u32).to_be_bytes());
        spaced.extend_from_slice(other);
        assert!(matches!(decode_message(&key, &spaced), Err(StoreError::Corrupt(_))));
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
        for original in [message(Some(Timestamp(5)), false), with_attachments(), extended(Vec::new())] {
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
        bad_tag[0] = 4;
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
