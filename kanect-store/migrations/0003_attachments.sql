-- Kanect schema version 3: attachments (kanect_core::backend::AttachmentStore). Their bytes are
-- not here but in the blob store.
--
-- One row per uploaded file. `owner` is indexed: a user's quota is the sum of `stored_bytes`
-- over their rows (file and thumbnail, kanect_core::Attachment::stored_bytes, kept as a column
-- so the sum reads no JSON). `message_id` and `conversation_id` name the message that carries
-- the attachment, both or neither: NULL until a send claims it, which it does under the row
-- lock (SELECT ... FOR UPDATE), so that exactly one message wins it. `image` is the
-- kanect_core::ImageMeta of an image that decoded, as JSON (NULL for any other file). Sizes
-- are BIGINT; timestamps are milliseconds since the Unix epoch, as everywhere.

CREATE TABLE kanect_attachments (
    id UUID PRIMARY KEY,
    owner UUID NOT NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    image JSONB,
    uploaded_at BIGINT NOT NULL,
    thumbnail_size BIGINT NOT NULL,
    stored_bytes BIGINT NOT NULL,
    message_id UUID,
    conversation_id UUID,
    CONSTRAINT kanect_attachments_message CHECK ((message_id IS NULL) = (conversation_id IS NULL))
);
CREATE INDEX kanect_attachments_owner ON kanect_attachments (owner);

-- What each message carries (a JSON array of kanect_core::AttachmentMeta, in the sender's
-- order): fixed at upload, so history needs no join. Every existing message carries none.
ALTER TABLE kanect_messages ADD COLUMN attachments JSONB NOT NULL DEFAULT '[]';
