// Message formatting: a small markdown subset, parsed into a tree and built as DOM nodes.
// Bodies are stored and sent exactly as written; only the web app reads these marks, so a
// message must still read well as plain text. Nothing here ever parses a string as HTML: every
// piece of user text becomes a text node, and an `href` is set only on a URL that `new URL`
// parsed with an http(s) scheme.
//
// The subset:
// - blocks: fenced code (a line starting with ``` up to a line that is only ```; nothing is
//   formatted inside, whitespace kept) and quotes (lines starting with "> "); the rest is text.
// - inline: `code` (any run of backticks, closed by a run as long), **bold**, *italic* and
//   _italic_, ~~struck~~, [text](https://…), and bare http(s):// and www. links.
// A mark that is not closed stays literal text. Emphasis follows a simple form of CommonMark's
// flanking rules: an opening mark is followed by a non-space and not preceded by a letter or
// digit, a closing one is preceded by a non-space and not followed by a letter or digit. So
// snake_case_names, a*b*c and 2*3*4 stay as written.
//
// Mentions: `@username` of someone the message mentions (the server's `mentions`, given as
// names) is a styled span, outside code; its text is a text node like any other.

import { findMentions } from './mentions.js';

/** How deep quotes and emphasis may nest; deeper marks stay text (keeps the DOM shallow). */
const MAX_DEPTH = 6;
/** Emoji that fit a "jumbo" message: one to this many, and nothing else. */
const JUMBO_MAX = 3;

const FENCE_OPEN = /^```[^`]*$/;
const FENCE_CLOSE = /^```\s*$/;
const QUOTE = /^> ?/;
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;
/** A bare link: where it may start, and the characters it may hold. */
const BARE_URL = /(?:https?:\/\/|www\.)[^\s<>"'`]+/iy;
/** `[text](url)`: link text without brackets, a URL without spaces (one level of parentheses). */
const BRACKET_LINK = /\[([^\[\]\n]+)\]\(([^\s()]*(?:\([^\s()]*\)[^\s()]*)*)\)/y;

/**
 * Parses a body into a tree of blocks:
 * `{type: 'text', children}`, `{type: 'quote', children: blocks}`, `{type: 'pre', text}`;
 * inline children are `{type: 'text', text}`, `{type: 'strong'|'em'|'del', children}`,
 * `{type: 'code', text}` and `{type: 'link', href, children}`.
 */
export function parse(body, depth = 0) {
  const lines = String(body).split('\n');
  const blocks = [];
  let para = [];
  const flush = () => {
    if (para.length) blocks.push({ type: 'text', children: parseInline(para.join('\n'), depth) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (FENCE_OPEN.test(line)) {
      let end = i + 1;
      while (end < lines.length && !FENCE_CLOSE.test(lines[end])) end++;
      if (end < lines.length) {
        // The opening line may name a language after the backticks; it is not shown.
        flush();
        blocks.push({ type: 'pre', text: lines.slice(i + 1, end).join('\n') });
        i = end;
        continue;
      }
    }
    if (depth < MAX_DEPTH && QUOTE.test(line)) {
      let end = i;
      while (end < lines.length && QUOTE.test(lines[end])) end++;
      flush();
      blocks.push({ type: 'quote', children: parse(lines.slice(i, end).map((l) => l.replace(QUOTE, '')).join('\n'), depth + 1) });
      i = end - 1;
      continue;
    }
    para.push(line);
  }
  flush();
  return blocks;
}

/** Whether `ch` (possibly undefined, at either end of the text) is a letter or a digit. */
function isWord(ch) {
  return ch !== undefined && WORD.test(ch);
}

/** Whether `ch` is whitespace or past either end of the text. */
function isSpace(ch) {
  return ch === undefined || SPACE.test(ch);
}

/** The length of the run of `ch` starting at `i`. */
function runAt(s, i, ch = s[i]) {
  let n = 0;
  while (s[i + n] === ch) n++;
  return n;
}

/** Where the code span opened by a run of `n` backticks at `i` closes, or -1. */
function codeClose(s, i, n) {
  for (let j = s.indexOf('`', i + n); j !== -1; j = s.indexOf('`', j)) {
    const run = runAt(s, j);
    if (run === n) return j;
    j += run;
  }
  return -1;
}

/** An http(s) URL as `new URL` reads it, or null for anything else (javascript:, data:, ...). */
export function safeUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/**
 * The bare link starting at `i`, as `{end, href}`, or null. Trailing punctuation is left out
 * ("see https://x.y." ends before the dot), and so is a ")" that opened nowhere in the link.
 */
function bareLink(s, i) {
  if (isWord(s[i - 1])) return null;
  BARE_URL.lastIndex = i;
  const m = BARE_URL.exec(s);
  if (!m) return null;
  let text = m[0];
  for (;;) {
    const last = text[text.length - 1];
    if (/[.,;:!?*_~\]]/.test(last)) text = text.slice(0, -1);
    else if (last === ')' && runCount(text, '(') < runCount(text, ')')) text = text.slice(0, -1);
    else break;
  }
  if (/^www\.$/i.test(text) || /^https?:\/\/$/i.test(text)) return null;
  const href = safeUrl(/^www\./i.test(text) ? `https://${text}` : text);
  return href ? { end: i + text.length, href } : null;
}

function runCount(s, ch) {
  return s.split(ch).length - 1;
}

/**
 * Where the emphasis mark of `n` times `ch` opened at `i` closes, or -1: the first run of
 * exactly `n` that may close (preceded by a non-space, not followed by a letter or digit),
 * skipping code spans.
 */
function emphasisClose(s, i, ch, n) {
  let j = i + n;
  while (j < s.length) {
    const c = s[j];
    if (c === '`') {
      const run = runAt(s, j);
      const close = codeClose(s, j, run);
      j = close === -1 ? j + run : close + run;
    } else if (c === ch) {
      const run = runAt(s, j);
      if (run === n && !isSpace(s[j - 1]) && !isWord(s[j + n])) return j;
      j += run;
    } else j++;
  }
  return -1;
}

const EMPHASIS = { '*': ['em', 'strong'], _: ['em', 'strong'], '~': [null, 'del'] };

/** Parses inline marks; `links` false inside a link's text (a link holds no other link). */
export function parseInline(s, depth = 0, links = true) {
  const out = [];
  let text = '';
  /** Emphasis kinds ("*1", "_2", …) whose closer search already failed in `s`. */
  const unclosed = new Set();
  const emit = (node) => {
    if (text) out.push({ type: 'text', text });
    text = '';
    out.push(node);
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '`') {
      const run = runAt(s, i);
      const close = codeClose(s, i, run);
      if (close === -1) {
        text += s.slice(i, i + run);
        i += run;
      } else {
        emit({ type: 'code', text: s.slice(i + run, close) });
        i = close + run;
      }
      continue;
    }
    if (links && c === '[') {
      BRACKET_LINK.lastIndex = i;
      const m = BRACKET_LINK.exec(s);
      const href = m && safeUrl(m[2]);
      if (href) {
        emit({ type: 'link', href, children: parseInline(m[1], depth + 1, false) });
        i += m[0].length;
        continue;
      }
    }
    if (links && (c === 'h' || c === 'H' || c === 'w' || c === 'W')) {
      const link = bareLink(s, i);
      if (link) {
        emit({ type: 'link', href: link.href, children: [{ type: 'text', text: s.slice(i, link.end) }] });
        i = link.end;
        continue;
      }
    }
    if (c in EMPHASIS && depth < MAX_DEPTH) {
      const run = runAt(s, i);
      const [single, double] = EMPHASIS[c];
      // *** is bold and italic at once; ~ needs exactly two.
      const n = c === '~' ? (run === 2 ? 2 : 0) : Math.min(run, 3);
      const opens = n > 0 && !isSpace(s[i + n]) && !isWord(s[i - 1]) && (n !== 1 || single);
      // A mark that found no closer here finds none further on either: search once per kind
      // (keeps "_a _a _a …" linear).
      const kind = c + n;
      const close = opens && !unclosed.has(kind) ? emphasisClose(s, i, c, n) : -1;
      if (opens && close === -1) unclosed.add(kind);
      if (close !== -1) {
        const children = parseInline(s.slice(i + n, close), depth + 1, links);
        const node = n === 3 ? { type: double, children: [{ type: single, children }] } : { type: n === 2 ? double : single, children };
        emit(node);
        i = close + n;
        continue;
      }
      // Not closed: one mark is literal, and the rest of the run may still open (**a* → *<em>a</em>).
      text += c === '~' ? s.slice(i, i + run) : c;
      i += c === '~' ? run : 1;
      continue;
    }
    text += c;
    i++;
  }
  if (text) out.push({ type: 'text', text });
  return out;
}

const TAGS = { strong: 'strong', em: 'em', del: 'del' };

/**
 * Text as nodes: text nodes, and a `span.mention` for each mention of `opts.names` (a Set of
 * lower-case usernames), `mention-me` for `opts.me` (mine, lower-case).
 */
function textNodes(text, opts) {
  const found = findMentions(text, opts.names);
  if (!found.length) return [document.createTextNode(text)];
  const out = [];
  let at = 0;
  for (const { start, end, name } of found) {
    if (start > at) out.push(document.createTextNode(text.slice(at, start)));
    const span = document.createElement('span');
    span.className = name.toLowerCase() === opts.me ? 'mention mention-me' : 'mention';
    span.textContent = text.slice(start, end);
    out.push(span);
    at = end;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

/** Builds DOM nodes for parsed inline nodes. */
function inlineNodes(nodes, opts) {
  return nodes.flatMap((node) => {
    if (node.type === 'text') return textNodes(node.text, opts);
    if (node.type === 'code') {
      const code = document.createElement('code');
      code.textContent = node.text;
      return code;
    }
    if (node.type === 'link') {
      const a = document.createElement('a');
      a.href = node.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      a.append(...inlineNodes(node.children, opts));
      return a;
    }
    const el = document.createElement(TAGS[node.type]);
    el.append(...inlineNodes(node.children, opts));
    return el;
  });
}

/** Builds DOM nodes for parsed blocks; text blocks are inline content beside block elements. */
function blockNodes(blocks, opts) {
  return blocks.flatMap((block) => {
    if (block.type === 'text') return inlineNodes(block.children, opts);
    if (block.type === 'pre') {
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      code.textContent = block.text;
      pre.append(code);
      return [pre];
    }
    const quote = document.createElement('blockquote');
    quote.append(...blockNodes(block.children, opts));
    return [quote];
  });
}

/**
 * A message body as an array of DOM nodes (text, formatting elements, safe links and
 * mentions). `names`: the lower-case usernames the message mentions; `me`: mine, lower-case.
 */
export function bodyNodes(body, { names = null, me = null } = {}) {
  return blockNodes(parse(body), { names, me });
}

/** The text of parsed nodes, marks left out (for one-line previews). */
function plain(nodes) {
  return nodes.map((node) => (node.children ? plain(node.children) : node.text)).join('');
}

/** A body with its formatting marks taken out: what a one-line preview shows. */
export function plainText(body) {
  return parse(body).map((block) => (block.children ? plain(block.children) : block.text)).join('\n');
}

let segmenter = null;

/**
 * Whether a body is only one to three emoji (whitespace aside), to be shown large. Counts
 * graphemes, so 👍🏽, 👨‍👩‍👧 and 🇫🇷 are one each.
 */
export function isJumboEmoji(body) {
  const text = String(body || '').replace(/\s+/gu, '');
  if (!text || text.length > 64) return false;
  segmenter = segmenter || new Intl.Segmenter('en', { granularity: 'grapheme' });
  let count = 0;
  for (const { segment } of segmenter.segment(text)) {
    if (!isEmoji(segment) || ++count > JUMBO_MAX) return false;
  }
  return true;
}

/**
 * Whether one grapheme is an emoji: a pictograph (with skin tone, variation selector or joined
 * to others), a flag (two regional indicators) or a keycap.
 */
function isEmoji(segment) {
  if (!/^[\p{Extended_Pictographic}\p{Emoji_Component}\u200d\ufe0f\u20e3\u{e0020}-\u{e007f}]+$/u.test(segment)) return false;
  return /\p{Extended_Pictographic}/u.test(segment) || /^\p{Regional_Indicator}{2}$/u.test(segment) || /\u20e3/u.test(segment);
}
