// Message search for the command palette (views/palette.js): the server's
// `GET /search/messages` (PROTOCOL.md, "Search"), newest first, a page at a time. Typing asks
// again after a short pause, and only the answer to the latest question is kept: an answer
// that comes back after the query changed is dropped, whatever order the answers arrive in.

import { api } from './api.js';

/** Quiet time after the last keystroke before the server is asked. */
const DEBOUNCE_MS = 200;
/** Hits per page (the server allows 1–50). */
const PAGE = 20;

/**
 * A search that follows what is typed; `onChange()` is called whenever its state changes.
 * Returns the store: read `state`, call `set(query, conversation)` on every change of the input
 * or the scope, `more()` for the next page, `stop()` when the palette closes.
 */
export function createMessageSearch(onChange) {
  /** What is shown. `status`: 'idle' (no query), 'loading', 'done' or 'error' (`error`, an ApiError). */
  const state = { query: '', conversation: null, hits: [], next: null, status: 'idle', error: null, loadingMore: false };
  /** Bumped by every new question: an answer carrying an older number is stale. */
  let generation = 0;
  let timer = 0;

  async function ask(gen, cursor) {
    try {
      const page = await api.searchMessages({
        q: state.query, conversation: state.conversation, order: 'newest', limit: PAGE, cursor,
      });
      if (gen !== generation) return;
      state.hits = cursor ? [...state.hits, ...page.hits] : page.hits;
      state.next = page.next_cursor || null;
      state.status = 'done';
      state.error = null;
    } catch (err) {
      if (gen !== generation) return;
      // A failed next page keeps the hits already shown; the button offers it again.
      if (!cursor) {
        state.hits = [];
        state.next = null;
        state.status = 'error';
      }
      state.error = err;
    } finally {
      if (gen === generation) {
        state.loadingMore = false;
        onChange();
      }
    }
  }

  return {
    state,
    /** Searches `query` (in `conversation` only, when given) after the pause; '' clears. */
    set(query, conversation = null) {
      const q = query.trim();
      if (q === state.query && conversation === state.conversation) return;
      generation += 1;
      clearTimeout(timer);
      Object.assign(state, { query: q, conversation, hits: [], next: null, error: null, loadingMore: false, status: q ? 'loading' : 'idle' });
      onChange();
      if (!q) return;
      const gen = generation;
      timer = setTimeout(() => ask(gen, null), DEBOUNCE_MS);
    },
    /** Reads the next page, if there is one and none is being read. */
    more() {
      if (!state.next || state.loadingMore || state.status !== 'done') return;
      state.loadingMore = true;
      state.error = null;
      onChange();
      ask(generation, state.next);
    },
    /** Forgets any answer still to come. */
    stop() {
      generation += 1;
      clearTimeout(timer);
    },
  };
}
