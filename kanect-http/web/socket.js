// The WebSocket half of the wire protocol: one socket per tab that reconnects by itself with
// backoff and, on every (re)connect, sends `resume` with the per-conversation cursors so no
// message is missed; duplicates are dropped by the state (messages are keyed by id).

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
/**
 * Ids per `watch` frame: 1000 ids (~39 KB) would pass the server's 32 KiB frame limit
 * (`max_frame_bytes` in `hello`), and the whole watch would be refused.
 */
const WATCH_FRAME_IDS = 500;

/**
 * Cursors per `resume` frame: a cursor is ~70 bytes, so 1000 (~70 KB) would pass the frame
 * limit too, the resume would be refused, and a `?resume=1` socket would hold events forever.
 */
const RESUME_FRAME_CURSORS = 300;

/**
 * The `resume` frames for `cursors`: every part but the last says `more`, so the server keeps
 * holding events until the last part (at least one frame, also for no cursors).
 */
export function resumeFrames(cursors) {
  const frames = [];
  for (let i = 0; i === 0 || i < cursors.length; i += RESUME_FRAME_CURSORS) {
    frames.push({ type: 'resume', cursors: cursors.slice(i, i + RESUME_FRAME_CURSORS), more: true });
  }
  delete frames[frames.length - 1].more;
  return frames;
}

/** The `watch` frames that follow `ids` (replacing the list): the first replaces, the rest add. */
export function watchFrames(ids) {
  const frames = [{ type: 'watch', users: ids.slice(0, WATCH_FRAME_IDS) }];
  for (let i = WATCH_FRAME_IDS; i < ids.length; i += WATCH_FRAME_IDS) {
    frames.push({ type: 'watch', users: ids.slice(i, i + WATCH_FRAME_IDS), add: true });
  }
  return frames;
}

/** Connection states shown to the user. */
export const State = Object.freeze({
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
  CLOSED: 'closed',
});

/**
 * A self-healing WebSocket.
 *
 * Options:
 * - `cursors()` → `[{conversation, seq}]`: where each conversation is up to, sent in `resume`.
 * - `watch()` → `[user id]`: users whose presence to follow.
 * - `onFrame(frame)`: every frame from the server (after request bookkeeping).
 * - `onState(state)`: connection state changes.
 * - `onHello(frame)`: the server's `hello` (its limits), on every connect.
 * - `onReady()`: connected and resumed: resend pending sends, refresh lists.
 * - `checkSession()` → `'ok' | 'ended' | 'offline'`: asked before each reconnect.
 * - `onSessionEnded(reason)`: the session is over; the socket stays closed.
 */
export class Socket {
  constructor(options) {
    this.options = options;
    this.ws = null;
    this.state = State.CLOSED;
    this.attempt = 0;
    this.stopped = true;
    this.nextRef = 1;
    this.requests = new Map();
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.onOnline = () => {
      if (!this.stopped && this.state === State.RECONNECTING && document.visibilityState === 'visible') this.reconnectNow();
    };
  }

  /** Opens the socket; it then stays open (reconnecting as needed) until `stop()`. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onOnline);
    this.connect(State.CONNECTING);
  }

  /** Closes the socket for good (log-out, session ended). */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onOnline);
    clearTimeout(this.retryTimer);
    this.clearHeartbeat();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.failRequests('closed');
    this.setState(State.CLOSED);
  }

  /** True when frames can be sent right now. */
  get open() {
    return this.state === State.CONNECTED && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame if connected; returns whether it was sent. */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ v: 1, ...frame }));
    return true;
  }

  /**
   * Follows the presence of `ids`, replacing the list (see `watchFrames`). The frames go out
   * back to back, so no other `watch` comes between them. Resolves once all are acknowledged;
   * rejects with the first refusal.
   */
  watch(ids) {
    return Promise.all(watchFrames(ids).map((frame) => this.request(frame)));
  }

  /** Sends a frame with a `ref` and resolves with the `ack` (rejects with the `error` frame). */
  request(frame, timeoutMs = REQUEST_TIMEOUT_MS) {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(ref);
        reject({ code: 'timeout', message: 'No answer from the server.' });
      }, timeoutMs);
      this.requests.set(ref, { resolve, reject, timer });
      if (!this.send({ ...frame, ref })) {
        clearTimeout(timer);
        this.requests.delete(ref);
        reject({ code: 'disconnected', message: 'Not connected.' });
      }
    });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    if (this.options.onState) this.options.onState(state);
  }

  connect(state) {
    this.setState(state);
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/v1/ws?resume=1`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => this.drop(ws);
    ws.onerror = () => {
      // A close event always follows; reconnecting is handled there.
    };
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    if (frame.type === 'hello') {
      if (this.options.onHello) this.options.onHello(frame);
      this.attempt = 0;
      this.startHeartbeat();
      this.resume();
      return;
    }
    if (frame.type === 'pong') {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    if ((frame.type === 'ack' || frame.type === 'error') && frame.ref !== undefined && this.requests.has(frame.ref)) {
      const pending = this.requests.get(frame.ref);
      this.requests.delete(frame.ref);
      clearTimeout(pending.timer);
      if (frame.type === 'ack') pending.resolve(frame);
      else pending.reject(frame);
    }
    if (frame.type === 'session_ended') {
      this.stop();
      if (this.options.onSessionEnded) this.options.onSessionEnded(frame.reason || 'logged_out');
      return;
    }
    if (frame.type === 'resync') {
      // Events were dropped: catch up from our cursors again.
      this.resume();
    }
    this.options.onFrame(frame);
  }

  /** Sends `resume` with our cursors and `watch`, then reports ready. */
  async resume() {
    const ws = this.ws;
    const cursors = this.options.cursors();
    const watch = this.options.watch().slice(0, 1000);
    try {
      if (watch.length) this.watch(watch).catch(() => {}); // the list is re-sent after `onReady` reloads it
      // In order: the server applies a socket's resumes one at a time, the last ends its hold.
      for (const frame of resumeFrames(cursors)) await this.request(frame);
    } catch {
      // Disconnected, timed out, or refused: a refused resume (the server's store failing)
      // changed nothing and the server still holds events, so start again on a new socket,
      // after the usual backoff. (Cursors the server cannot serve are skipped, not refused.)
      this.drop(ws);
      return;
    }
    if (this.ws !== ws || this.stopped) return;
    this.setState(State.CONNECTED);
    if (this.options.onReady) this.options.onReady();
  }

  /** Forgets a socket that closed or stopped answering, and plans the next attempt. */
  drop(ws) {
    if (!ws || this.ws !== ws) return;
    this.ws = null;
    ws.onclose = null;
    ws.onmessage = null;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(4000);
    this.clearHeartbeat();
    this.failRequests('disconnected');
    if (!this.stopped) this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.setState(State.RECONNECTING);
    clearTimeout(this.retryTimer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.retryTimer = setTimeout(() => this.reconnectNow(), delay);
  }

  async reconnectNow() {
    clearTimeout(this.retryTimer);
    if (this.stopped || this.ws) return;
    const verdict = this.options.checkSession ? await this.options.checkSession() : 'ok';
    if (this.stopped || this.ws) return;
    if (verdict === 'ended') {
      this.stop();
      if (this.options.onSessionEnded) this.options.onSessionEnded('expired');
    } else if (verdict === 'offline') {
      this.scheduleReconnect();
    } else {
      this.connect(State.RECONNECTING);
    }
  }

  startHeartbeat() {
    this.clearHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping' })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        // No pong: the connection is dead even if the browser has not noticed.
        this.drop(this.ws);
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  clearHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  failRequests(code) {
    for (const [, pending] of this.requests) {
      clearTimeout(pending.timer);
      pending.reject({ code, message: 'Connection lost.' });
    }
    this.requests.clear();
  }
}
