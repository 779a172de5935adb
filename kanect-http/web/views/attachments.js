// Attachments on screen: the tray of uploads above the composer, the files a message carries
// (images as thumbnails, other files as cards with a download link), and the viewer that shows
// an image whole. File names are user text: they only ever become text nodes and attribute
// values (alt, download), never markup.
//
// Images come from this site only (`/api/v1/attachments/…`, allowed by the page's `img-src
// 'self'`); the server sends every file but JPEG, PNG, GIF and WebP as a download, so a file
// is never rendered as a page of ours.

import { attachmentUrl } from '../api.js';
import { h, icon } from '../dom.js';
import { on, state } from '../state.js';
import * as uploads from '../uploads.js';
import { errorText } from './auth.js';

/** "0 bytes", "512 bytes", "1.5 KB", "25 MB", "1.2 GB" (powers of 1024). */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${shown} ${units[unit]}`;
}

/** Why an upload failed, in words. */
export function uploadErrorText(err) {
  switch (err.code) {
    case 'too_many_files':
      return `At most ${uploads.MAX_PER_MESSAGE} files per message`;
    case 'attachment_too_large':
      return state.limits.maxFileBytes ? `Too large: the limit is ${formatSize(state.limits.maxFileBytes)}` : 'Too large for this server';
    case 'quota_exceeded':
      return 'Your storage is full';
    case 'too_many_uploads':
    case 'rate_limited':
      return 'Too many uploads at once, wait a moment';
    case 'empty':
      return 'This file is empty';
    case 'attachments_disabled':
      return 'This server does not take files';
    case 'request_timeout':
      return 'The upload took too long';
    case 'network':
      return 'Upload failed: cannot reach the server';
    default:
      return errorText(err);
  }
}

// ---- the tray ----------------------------------------------------------------------------

/**
 * The tray of a conversation's uploads (name, size, progress, error, a button to cancel or
 * remove each), for above its composer. Returns `{el, destroy}`; hidden while empty.
 */
export function createTray(conversationId) {
  const list = h('ul', { class: 'tray', 'data-tray': '', 'aria-label': 'Files to send', hidden: true });
  /** upload key → {el, sig, progress, info}: rows are kept while their upload lasts. */
  const rows = new Map();

  function row(upload) {
    const sig = `${upload.status}:${upload.record ? upload.record.id : ''}`;
    const old = rows.get(upload.key);
    if (old && old.sig === sig) return old;
    const failed = upload.status === 'failed';
    const done = upload.status === 'done';
    const image = done && upload.record.image;
    const preview = image
      ? h('img', {
        class: 'upload-thumb', src: attachmentUrl(upload.record.id, true), alt: '',
        width: image.thumbnail_width, height: image.thumbnail_height, decoding: 'async',
      })
      : icon('file', 'icon upload-icon');
    const info = h('span', { class: failed ? 'upload-info upload-error' : 'upload-info', 'data-upload-info': '' });
    const progress = h('progress', { class: 'upload-progress', max: String(Math.max(1, upload.size)), value: String(upload.sent), 'aria-label': `Upload of ${upload.name}` });
    const cancel = h('button', {
      type: 'button', class: 'icon-btn small upload-cancel', 'data-action': 'remove-upload',
      title: done || failed ? 'Remove' : 'Cancel upload', 'aria-label': `${done || failed ? 'Remove' : 'Cancel upload of'} ${upload.name}`,
    }, icon('close'));
    cancel.addEventListener('click', () => uploads.remove(upload.key));
    const el = h('li', { class: `upload upload-${upload.status}`, 'data-upload': upload.key, 'data-status': upload.status, role: failed ? 'alert' : null },
      h('span', { class: 'upload-preview' }, preview),
      h('span', { class: 'upload-main' }, h('span', { class: 'upload-name', title: upload.name }, upload.name), info, failed || done ? null : progress),
      cancel);
    const entry = { el, sig, progress, info };
    rows.set(upload.key, entry);
    return entry;
  }

  function fill(entry, upload) {
    if (upload.status === 'failed') entry.info.textContent = uploadErrorText(upload.error);
    else if (upload.status === 'done') entry.info.textContent = formatSize(upload.record.size);
    else if (upload.status === 'queued') entry.info.textContent = `${formatSize(upload.size)} · waiting`;
    else {
      const percent = upload.size ? Math.floor((100 * upload.sent) / upload.size) : 0;
      entry.info.textContent = `${formatSize(upload.sent)} of ${formatSize(upload.size)} · ${percent}%`;
      entry.progress.max = Math.max(1, upload.size);
      entry.progress.value = upload.sent;
    }
  }

  function render() {
    const all = uploads.tray(conversationId);
    const keep = new Set(all.map((u) => u.key));
    for (const key of [...rows.keys()]) if (!keep.has(key)) rows.delete(key);
    const els = all.map((u) => {
      const entry = row(u);
      fill(entry, u);
      return entry.el;
    });
    els.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    while (list.children.length > els.length) list.lastChild.remove();
    list.hidden = all.length === 0;
  }

  const offs = [
    on('uploads', (id) => id === conversationId && render()),
    on('upload-progress', (upload) => {
      const entry = upload.conversation === conversationId && rows.get(upload.key);
      if (entry) fill(entry, upload);
    }),
  ];
  render();
  return { el: list, destroy: () => offs.forEach((off) => off()) };
}

// ---- in messages -------------------------------------------------------------------------

/** A signature of a message's attachments, for deciding whether to rebuild its row. */
export function attachmentsSig(message) {
  return (message.attachments || []).map((a) => a.id).join(',');
}

/**
 * The files a message carries, for its bubble: images as thumbnails that open the viewer,
 * other files as cards with a download link. Null when it carries none (or was deleted).
 */
export function attachmentsBlock(message) {
  const files = message.deleted ? [] : message.attachments || [];
  if (!files.length) return null;
  const images = files.filter((a) => a.image);
  const others = files.filter((a) => !a.image);
  const block = h('div', { class: 'attachments' });
  if (images.length) {
    block.append(h('div', { class: `thumbs${images.length > 1 ? ' thumbs-many' : ''}` }, images.map(thumbnail)));
  }
  for (const a of others) block.append(fileCard(a));
  return block;
}

function thumbnail(a) {
  const img = h('img', {
    src: attachmentUrl(a.id, true), alt: a.name, width: a.image.thumbnail_width, height: a.image.thumbnail_height,
    loading: 'lazy', decoding: 'async',
  });
  const button = h('button', { type: 'button', class: 'thumb', 'data-attachment': a.id, 'aria-label': `Open ${a.name}`, title: a.name }, img);
  button.addEventListener('click', (event) => {
    // Not a tap on the bubble (which shows my message's actions).
    event.stopPropagation();
    openViewer(a);
  });
  return button;
}

function fileCard(a) {
  const card = h('a', { class: 'file-card', href: attachmentUrl(a.id), download: a.name, 'data-attachment': a.id, title: `Download ${a.name}` },
    h('span', { class: 'file-icon' }, icon('file')),
    h('span', { class: 'file-text' }, h('span', { class: 'file-name' }, a.name), h('span', { class: 'file-size' }, formatSize(a.size))),
    icon('download', 'icon file-download'));
  card.addEventListener('click', (event) => event.stopPropagation());
  return card;
}

// ---- the viewer --------------------------------------------------------------------------

/**
 * Shows an image attachment whole, over everything, with its name and a download link.
 * Closes with Esc (the dialog's own cancel), the close button, or a click beside the image.
 */
export function openViewer(a) {
  const close = h('button', { type: 'button', class: 'icon-btn viewer-close', 'aria-label': 'Close', title: 'Close (Esc)', 'data-action': 'close-viewer' }, icon('close'));
  const download = h('a', { class: 'btn btn-small viewer-download', href: attachmentUrl(a.id), download: a.name, 'data-action': 'download' },
    icon('download'), 'Download');
  const img = h('img', { class: 'viewer-img', src: attachmentUrl(a.id), alt: a.name, width: a.image.width, height: a.image.height, decoding: 'async' });
  const stage = h('div', { class: 'viewer-stage' }, img);
  const dialog = h('dialog', { class: 'viewer', 'data-viewer': a.id, 'aria-label': a.name },
    h('div', { class: 'viewer-bar' },
      h('span', { class: 'viewer-text' }, h('span', { class: 'viewer-name' }, a.name),
        h('span', { class: 'viewer-size' }, `${a.image.width} × ${a.image.height} · ${formatSize(a.size)}`)),
      download, close),
    stage);
  const shut = () => {
    if (dialog.open) dialog.close();
  };
  close.addEventListener('click', shut);
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog || event.target === stage) shut();
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  return dialog;
}

// ---- choosing files ----------------------------------------------------------------------

/** The composer's attach button and the hidden file input it opens: `{button, input}`. */
export function attachButton(conversationId) {
  const input = h('input', { type: 'file', multiple: true, hidden: true, 'data-attach-input': '', tabindex: '-1', 'aria-hidden': 'true' });
  const button = h('button', { type: 'button', class: 'icon-btn attach-btn', 'aria-label': 'Attach files', title: 'Attach files', 'data-action': 'attach' }, icon('attach'));
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    if (input.files.length) uploads.addFiles(conversationId, [...input.files]);
    input.value = ''; // the same file may be chosen again
  });
  return { button, input };
}

/**
 * Takes files dropped on `dropZone` (marked `dropping` while files are dragged over it) and
 * images pasted into it, for the conversation's tray. `enabled()` says whether the composer
 * takes messages now.
 */
export function acceptFiles(conversationId, dropZone, enabled) {
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
  // dragenter/dragleave fire for every child crossed: count them to know when the drag left.
  let depth = 0;
  const setDropping = (on) => dropZone.classList.toggle('dropping', on);
  dropZone.addEventListener('dragenter', (event) => {
    if (!hasFiles(event) || !enabled()) return;
    event.preventDefault();
    depth += 1;
    setDropping(true);
  });
  dropZone.addEventListener('dragover', (event) => {
    if (!hasFiles(event) || !enabled()) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  dropZone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) setDropping(false);
  });
  dropZone.addEventListener('drop', (event) => {
    depth = 0;
    setDropping(false);
    if (!hasFiles(event) || !enabled()) return;
    event.preventDefault();
    const files = [...event.dataTransfer.files];
    if (files.length) uploads.addFiles(conversationId, files);
  });
  // A pasted screenshot or copied image. Copied text that also comes with a picture of itself
  // (some editors add one) stays a text paste.
  dropZone.addEventListener('paste', (event) => {
    const data = event.clipboardData;
    if (!data || !enabled() || data.types.includes('text/plain')) return;
    const files = [...data.files];
    if (!files.length) return;
    event.preventDefault();
    uploads.addFiles(conversationId, files);
  });
}
