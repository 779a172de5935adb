// Reply previews, as the server makes them (kanect-core `replies::preview`): the original's
// sender and its first non-empty line cut at 100 characters with "…", for a message of files
// only its first file's name, or "deleted". The server sends a reply's preview with it; the app
// makes the same one itself where no server record has it yet — a reply of mine shown from its
// ack, the bar above the composer — and where a frame changes an original a loaded reply shows
// (an edit: the new first line; a deletion: deleted).

/** Characters of a preview's text before it is cut (kanect-core `REPLY_PREVIEW_CHARS`). */
const PREVIEW_CHARS = 100;

/** `text` cut to PREVIEW_CHARS characters (not UTF-16 units), with "…" when cut. */
function cut(text) {
  const chars = [...text];
  return chars.length > PREVIEW_CHARS ? `${chars.slice(0, PREVIEW_CHARS).join('')}…` : text;
}

/** The preview `{sender, text, deleted}` of a message as a reply to it shows it. */
export function previewOf(message) {
  if (message.deleted) return { sender: message.sender, text: '', deleted: true };
  const line = String(message.body || '').split(/\r?\n/).map((l) => l.trim()).find((l) => l);
  const files = message.attachments || [];
  const text = line ? cut(line) : files.length ? cut(files[0].name || '') : '';
  return { sender: message.sender, text, deleted: false };
}

/** The preview of a deleted original, keeping who sent it. */
export function deletedPreview(preview) {
  return { sender: preview ? preview.sender : null, text: '', deleted: true };
}
