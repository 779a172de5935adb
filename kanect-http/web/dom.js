// Small DOM helpers. Every piece of user data reaches the page through text nodes
// (`textContent` / `createTextNode`): nothing here ever parses a string as HTML.

/** Attributes `h` may set with setAttribute; anything else is a bug in the caller. */
const SAFE_ATTR = /^(class|id|type|name|value|placeholder|autocomplete|for|role|title|href|src|alt|width|height|download|accept|multiple|max|min|step|readonly|selected|loading|decoding|tabindex|disabled|hidden|maxlength|minlength|rows|inputmode|spellcheck|autofocus|required|checked|novalidate|(data|aria)-[a-z-]+)$/;

/**
 * URLs `h` may put in `href` and `src`: a fragment, or a path on this site (not `//host`, nor
 * `/\host`, which browsers read as another site too).
 */
const SAFE_URL = /^(#|\/(?![/\\]))/;

/**
 * Builds an element: `h('button', {class: 'x', onclick: fn}, 'text', child)`.
 * Strings and numbers become text nodes; `on*` keys add listeners; null/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (SAFE_ATTR.test(key)) {
      if ((key === 'href' || key === 'src') && !SAFE_URL.test(String(value))) throw new Error(`unsafe ${key}: ${value}`);
      el.setAttribute(key, value === true ? '' : String(value));
    } else {
      throw new Error(`attribute not allowed: ${key}`);
    }
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, arrays of them) as nodes and text nodes. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** "1 member", "3 members". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A user's name as shown: the display name, or the username. */
export function displayName(user) {
  if (!user) return 'Unknown';
  return user.display_name || user.username || 'Unknown';
}

/** Up to two initials for an avatar. */
function initials(name) {
  const words = String(name || '?').trim().split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[1]] : [words[0] || '?'];
  const chars = letters.map((w) => Array.from(w)[0] || '').join('');
  return (words.length > 1 ? chars : Array.from(words[0] || '?').slice(0, 2).join('')).toUpperCase();
}

/** A stable hue (0-359) for a user or conversation id, for avatar colours. */
function hue(id) {
  let x = 2166136261;
  for (const ch of String(id)) x = Math.imul(x ^ ch.charCodeAt(0), 16777619);
  return Math.abs(x) % 360;
}

/**
 * An avatar: the picture at `image` if given, over initials on a colour derived from the id
 * (what shows while it loads, and if it fails); with a green dot when `online`, an amber one
 * when `away` (online, but inactive for a while).
 */
export function avatar(id, name, { online, away = false, image = null, size = 'md', group = false } = {}) {
  const el = h('span', { class: `avatar avatar-${size}${group ? ' avatar-group' : ''}`, 'aria-hidden': 'true' },
    initials(name));
  el.style.setProperty('--hue', String(hue(id)));
  if (image) {
    const img = h('img', { class: 'avatar-img', src: image, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => img.remove());
    el.append(img);
  }
  if (online && away) el.append(h('span', { class: 'dot dot-away', title: 'away' }));
  else if (online) el.append(h('span', { class: 'dot dot-on', title: 'online' }));
  return el;
}

/**
 * An `<img>` of a picture the user chose on this device, before it is uploaded (a preview):
 * `dataUrl` from FileReader. Only a raster image's data URL is taken (the page's CSP allows
 * `data:` images, and `h` takes only paths on this site).
 */
export function localImage(dataUrl, cls) {
  if (!/^data:image\/(png|jpeg|gif|webp);base64,/.test(dataUrl)) return null;
  const img = h('img', { class: cls, alt: '' });
  img.src = dataUrl;
  return img;
}

/** Shows a short notice at the bottom of the screen. */
export function toast(text, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h('div', { class: `toast toast-${kind}`, role: 'status' }, text);
  box.append(item);
  setTimeout(() => item.classList.add('toast-out'), 3500);
  setTimeout(() => item.remove(), 4000);
}

/** Stroke icons (24×24 paths), drawn with SVG elements: our own constant data, never user text. */
const ICONS = {
  back: ['M15 18l-6-6 6-6'],
  down: ['M6 9l6 6 6-6'],
  send: ['M4 12l16-8-6 16-2.5-6.5L4 12z', 'M11.5 13.5L20 4'],
  edit: ['M4 20h4L19 9l-4-4L4 16v4z', 'M13.5 6.5l4 4'],
  trash: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13'],
  search: ['M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z', 'M20 20l-4-4'],
  group: ['M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1', 'M16 3.5a4 4 0 0 1 0 7', 'M19 14.5a6 6 0 0 1 3 5.5v1'],
  logout: ['M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3', 'M10 17l-5-5 5-5', 'M5 12h11'],
  info: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 11v5', 'M12 8h.01'],
  link: ['M10 14a4.5 4.5 0 0 0 6.4 0l3-3a4.5 4.5 0 0 0-6.4-6.4L11.5 6', 'M14 10a4.5 4.5 0 0 0-6.4 0l-3 3a4.5 4.5 0 0 0 6.4 6.4l1.5-1.5'],
  shield: ['M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6l8-3z'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  chat: ['M4 5h16v11H9l-5 4V5z'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  checks: ['M1.5 12.5l4.5 4.5L15.5 7.5', 'M11 16.5l.5.5L21 7.5'],
  clock: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 7v5l3 2'],
  attach: ['M20.5 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9'],
  file: ['M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8l-5-5z', 'M14 3v5h5'],
  download: ['M12 4v11', 'M7 10.5l5 5 5-5', 'M5 20h14'],
  reply: ['M9 14l-5-5 5-5', 'M4 9h10a6 6 0 0 1 6 6v4'],
  bell: ['M6 16V11a6 6 0 0 1 12 0v5l2 2H4l2-2z', 'M10 20a2 2 0 0 0 4 0'],
  bellOff: ['M6 16V11a6 6 0 0 1 9.5-4.9', 'M18 11v5l2 2H8', 'M10 20a2 2 0 0 0 4 0', 'M3 3l18 18'],
  settings: ['M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z'],
  smile: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M8 14.5s1.5 2 4 2 4-2 4-2', 'M9 9.5h.01', 'M15 9.5h.01'],
};

/** An icon as an inline SVG element. */
export function icon(name, cls = 'icon') {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}
