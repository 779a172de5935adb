-- Kanect schema version 4: attachments' bytes (kanect_store::PgBlobStore), as rows of chunks
-- so that nothing reads or writes a whole file at once (see kanect-store/src/blob/pg.rs).
--
-- `key` is a BlobKey's text: `<uuid>` for a file, `<uuid>.thumb` for its thumbnail. Chunk `n`
-- holds bytes [n * chunk_size, (n + 1) * chunk_size) of the blob, the last one fewer; each blob
-- records its chunk size, so a build with another one still reads it. A put inserts the blob's
-- row first and its chunks after, in one transaction; deleting the row deletes the chunks.

CREATE TABLE kanect_blobs (
    key TEXT PRIMARY KEY,
    size BIGINT NOT NULL CHECK (size >= 0),
    chunk_size INTEGER NOT NULL CHECK (chunk_size > 0)
);

CREATE TABLE kanect_blob_chunks (
    key TEXT NOT NULL REFERENCES kanect_blobs (key) ON DELETE CASCADE,
    n INTEGER NOT NULL CHECK (n >= 0),
    data BYTEA NOT NULL,
    PRIMARY KEY (key, n)
);

-- Out of line and uncompressed: uploads are mostly compressed already (images, archives), and
-- an uncompressed value can be sliced (`substring`) reading only the slices a range needs.
ALTER TABLE kanect_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
