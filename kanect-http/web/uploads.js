// Files on their way into a message: for each conversation, the uploads chosen in its composer
// (the "tray"), each uploaded as soon as it is chosen, and kept after it finished until a send
// takes it. A tray outlives its view, so an upload goes on while another conversation is open;
// it does not outlive the page (a File cannot be stored), and the server forgets an upload no
// message carries after a day.
//
// Uploads run a few at a time: the server refuses more than 4 under way per account
// (`too_many_uploads`), and a few more may come from the user's other tabs. The rest wait.

import { ApiError, uploadFile } from './api.js';
import { emit, on, state } from './state.js';

/** The most files one message carries (PROTOCOL.md: `too_long`, field `attachments`). */
export const MAX_PER_MESSAGE = 10;
/** Uploads under way at once from this page; below the server's 4, leaving room for other tabs. */
const AT_ONCE = 3;

/**
 * One chosen file.
 * - `status`: 'queued' (waiting for a free slot), 'uploading', 'done' (`record` holds the
 *   server's attachment record) or 'failed' (`error` says why: an ApiError, or
 *   `{code: 'too_many_files'}` for a file past the per-message cap, never uploaded).
 * - `sent` / `size`: bytes uploaded so far and in all, for the progress bar.
 */
class Upload {
  constructor(conversation, file) {
    this.key = `u${nextKey++}`;
    this.conversation = conversation;
    this.file = file;
    this.name = file.name || 'file';
    this.size = file.size;
    this.sent = 0;
    this.status = 'queued';
    this.record = null;
    this.error = null;
    /** Cancels the request under way, while uploading. */
    this.abort = null;
  }
}

let nextKey = 1;
/** The uploads store: conversation id → its tray (uploads in the order chosen), and the queue. */
const store = {
  trays: new Map(),
  /** Uploads waiting for a slot, oldest first. */
  waiting: [],
  /** Uploads under way. */
  running: 0,
};

/** The conversation's tray, oldest first (a copy). */
export function tray(conversationId) {
  return [...(store.trays.get(conversationId) || [])];
}

/** The attachment records of the conversation's finished uploads, in the order chosen. */
export function ready(conversationId) {
  return tray(conversationId).filter((u) => u.status === 'done').map((u) => u.record);
}

/**
 * Adds files to a conversation's tray and starts uploading them. A file past
 * `MAX_PER_MESSAGE` (counting the tray's uploads that have not failed), or larger than the
 * server said it takes, is added as failed, and not uploaded: the server would refuse it, and
 * refusing a large body closes the connection under it, which the browser may report as a
 * network failure rather than the refusal.
 */
export function addFiles(conversationId, files) {
  let list = store.trays.get(conversationId);
  if (!list) store.trays.set(conversationId, (list = []));
  for (const file of files) {
    const upload = new Upload(conversationId, file);
    const limit = state.limits.maxFileBytes;
    if (list.filter((u) => u.status !== 'failed').length >= MAX_PER_MESSAGE) {
      upload.status = 'failed';
      upload.error = { code: 'too_many_files' };
    } else if (limit && file.size > limit) {
      upload.status = 'failed';
      upload.error = new ApiError(413, 'attachment_too_large', 'file too large');
    } else store.waiting.push(upload);
    list.push(upload);
  }
  emit('uploads', conversationId);
  pump();
}

/** Removes an upload from its tray: cancels it if it is under way or waiting. */
export function remove(key) {
  for (const [conversationId, list] of store.trays) {
    const upload = list.find((u) => u.key === key);
    if (!upload) continue;
    forget(upload);
    emit('uploads', conversationId);
    return;
  }
}

/**
 * Takes the finished uploads out of the tray for a send (the failed ones go too: their
 * errors were shown; the ones under way stay for the next message). Returns their records.
 */
export function take(conversationId) {
  const records = ready(conversationId);
  const list = store.trays.get(conversationId) || [];
  const left = list.filter((u) => u.status === 'queued' || u.status === 'uploading');
  if (left.length) store.trays.set(conversationId, left);
  else store.trays.delete(conversationId);
  emit('uploads', conversationId);
  return records;
}

/** Drops an upload from its tray and the queue, cancelling its request. */
function forget(upload) {
  const list = store.trays.get(upload.conversation) || [];
  const i = list.indexOf(upload);
  if (i >= 0) list.splice(i, 1);
  if (!list.length) store.trays.delete(upload.conversation);
  const w = store.waiting.indexOf(upload);
  if (w >= 0) store.waiting.splice(w, 1);
  if (upload.abort) upload.abort();
}

/** Starts waiting uploads while there is a free slot. */
function pump() {
  while (store.running < AT_ONCE && store.waiting.length) start(store.waiting.shift());
}

function start(upload) {
  upload.status = 'uploading';
  store.running += 1;
  const { promise, abort } = uploadFile(upload.file, upload.name, (sent, size) => {
    upload.sent = sent;
    upload.size = size;
    emit('upload-progress', upload);
  });
  upload.abort = abort;
  promise
    .then((record) => {
      upload.status = 'done';
      upload.record = record;
      upload.sent = upload.size;
    })
    .catch((err) => {
      upload.status = 'failed';
      upload.error = err instanceof ApiError ? err : new ApiError(0, 'network', 'Cannot reach the server.');
    })
    .finally(() => {
      upload.abort = null;
      upload.file = null; // the bytes are on the server (or not wanted): let the File go
      store.running -= 1;
      emit('uploads', upload.conversation);
      pump();
    });
}

// Signed out: nothing chosen before belongs to the next session.
on('session', () => {
  for (const list of [...store.trays.values()]) for (const upload of [...list]) forget(upload);
  store.trays.clear();
  store.waiting.length = 0;
});
