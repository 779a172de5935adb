// The REST half of the wire protocol (kanect-http/PROTOCOL.md): JSON in and out, the session
// cookie for authentication, and the X-CSRF-Token header on every state-changing request.
// File uploads go through XMLHttpRequest instead of fetch: only it reports upload progress.

const BASE = '/api/v1';

/** An error response from the server, or a network failure (`code` = "network"). */
export class ApiError extends Error {
  constructor(status, code, message, field = null, retryAfter = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

let csrfToken = null;

/** Remembers the CSRF token from a log-in or sign-up response. */
export function setCsrf(token) {
  csrfToken = token || null;
}

/** The CSRF token: the one we were given, else the readable `kanect_csrf` cookie. */
function csrf() {
  if (csrfToken) return csrfToken;
  const match = document.cookie.split(/;\s*/).find((c) => c.startsWith('kanect_csrf='));
  return match ? decodeURIComponent(match.slice('kanect_csrf='.length)) : null;
}

/** Builds a query string, leaving out null and undefined values. */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Sends one request; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function request(method, path, body, { timeoutMs = 15000 } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrf();
    if (token) headers['X-CSRF-Token'] = token;
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: controller.signal,
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'Cannot reach the server.');
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw responseError(response.status, response.statusText, data, response.headers.get('Retry-After'));
  return data;
}

/** The ApiError for a failed response: its JSON error body if it has one, else the status. */
function responseError(status, statusText, data, retryAfterHeader) {
  const err = (data && data.error) || {};
  const retry = Number(retryAfterHeader) || null;
  return new ApiError(status, err.code || 'unavailable', err.message || statusText, err.field || null, retry);
}

/** The URL of a user's avatar picture (cacheable for ever: it names its version), or null. */
export function avatarUrl(user) {
  if (!user || !user.avatar || !user.id) return null;
  return `${BASE}/users/${encodeURIComponent(user.id)}/avatar${query({ v: user.avatar })}`;
}

/**
 * Sends a file as the whole body (`PUT /me/avatar`), with the CSRF header; resolves with the
 * parsed answer, rejects with an ApiError.
 */
async function putFile(path, file) {
  const headers = { Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' };
  const token = csrf();
  if (token) headers['X-CSRF-Token'] = token;
  let response;
  try {
    response = await fetch(BASE + path, { method: 'PUT', headers, body: file, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server.');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw responseError(response.status, response.statusText, data, response.headers.get('Retry-After'));
  return data;
}

/** The path of an attachment's bytes (`thumbnail`: of its thumbnail), for links and images. */
export function attachmentUrl(id, thumbnail = false) {
  return `${BASE}/attachments/${encodeURIComponent(id)}${thumbnail ? '/thumbnail' : ''}`;
}

/**
 * Uploads a file (`POST /attachments?name=`, the bytes as the body) with the session cookie and
 * the CSRF header, as `request` sends them. `onProgress(sent, total)` follows the upload.
 * Returns `{promise, abort}`: the promise resolves with the attachment record and rejects with
 * an ApiError (`network` when the connection failed, `aborted` after `abort()`).
 */
export function uploadFile(file, name, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `${BASE}/attachments${query({ name })}`);
    xhr.withCredentials = true;
    xhr.responseType = 'json';
    xhr.setRequestHeader('Accept', 'application/json');
    const token = csrf();
    if (token) xhr.setRequestHeader('X-CSRF-Token', token);
    xhr.upload.addEventListener('progress', (event) => {
      if (onProgress) onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 201 && xhr.response) resolve(xhr.response);
      else reject(responseError(xhr.status, xhr.statusText, xhr.response, xhr.getResponseHeader('Retry-After')));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'Cannot reach the server.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'Upload cancelled.')));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

/** The server's e-mail features (`GET /email`, PROTOCOL.md "E-mail"): asked once per page load,
 *  since only a restart changes them; an answer that does not come reads as no mail. */
let mailFeaturesAnswer = null;

/** Resolves with `{enabled, verification}`, never rejects. */
export function mailFeatures() {
  if (!mailFeaturesAnswer) mailFeaturesAnswer = request('GET', '/email').catch(() => ({ enabled: false, verification: 'off' }));
  return mailFeaturesAnswer;
}

/** Every endpoint the web app uses, one function each. */
export const api = {
  signup: (fields) => request('POST', '/auth/signup', fields),
  login: (username, password) => request('POST', '/auth/login', { username, password }),
  logout: () => request('POST', '/auth/logout', {}),
  me: () => request('GET', '/me'),

  /** `{mode, users_may_invite}` (PROTOCOL.md, "Sign-up modes and invites"); public. */
  signupInfo: () => request('GET', '/auth/signup'),
  /** `{expires_at, uses_left}` if the invite's token works now; public. */
  inviteStatus: (invite) => request('POST', '/auth/invite', { invite }),
  invites: ({ before, limit } = {}) => request('GET', `/invites${query({ before, limit })}`),
  createInvite: (uses, expiresInSecs) => request('POST', '/invites', { uses, expires_in_secs: expiresInSecs }),
  revokeInvite: (id) => request('DELETE', `/invites/${encodeURIComponent(id)}`),
  notifications: () => request('GET', '/notifications'),
  setLevel: (id, level, until = null) =>
    request('PUT', `/conversations/${encodeURIComponent(id)}/notifications`, until == null ? { level } : { level, until }),
  setDoNotDisturb: (on, until = null) => request('PUT', '/notifications/do-not-disturb', until == null ? { on } : { on, until }),
  pushKey: () => request('GET', '/push/key'),
  pushSubscribe: (subscription) => request('POST', '/push/subscriptions', subscription),
  pushUnsubscribe: (endpoint) => request('DELETE', '/push/subscriptions', { endpoint }),
  /** My own account (PROTOCOL.md, "Your own account"). */
  updateProfile: (fields) => request('PATCH', '/me', fields),
  setAvatar: (file) => putFile('/me/avatar', file),
  removeAvatar: () => request('DELETE', '/me/avatar'),
  changePassword: (currentPassword, newPassword, endOtherSessions) =>
    request('POST', '/me/password', { current_password: currentPassword, new_password: newPassword, end_other_sessions: endOtherSessions }),
  sessions: () => request('GET', '/me/sessions'),
  endSession: (id) => request('DELETE', `/me/sessions/${encodeURIComponent(id)}`),
  deleteAccount: (password) => request('POST', '/me/delete', { password }),

  users: ({ search, after, limit } = {}) => request('GET', `/users${query({ search, after, limit })}`),
  user: (id) => request('GET', `/users/${encodeURIComponent(id)}`),

  conversations: ({ after, limit } = {}) => request('GET', `/conversations${query({ after, limit })}`),
  conversation: (id) => request('GET', `/conversations/${encodeURIComponent(id)}`),
  direct: (user) => request('POST', '/conversations/direct', { user }),
  createGroup: (name, members) => request('POST', '/conversations', { name, members }),
  rename: (id, name) => request('PATCH', `/conversations/${encodeURIComponent(id)}`, { name }),
  addMember: (id, user) => request('POST', `/conversations/${encodeURIComponent(id)}/members`, { user }),
  removeMember: (id, user) => request('DELETE', `/conversations/${encodeURIComponent(id)}/members/${encodeURIComponent(user)}`),
  leave: (id) => request('POST', `/conversations/${encodeURIComponent(id)}/leave`, {}),

  messages: (id, { before, after, limit } = {}) =>
    request('GET', `/conversations/${encodeURIComponent(id)}/messages${query({ before, after, limit })}`),
  send: (id, clientId, body) => request('POST', `/conversations/${encodeURIComponent(id)}/messages`, { client_id: clientId, body }),
  edit: (messageId, body) => request('PATCH', `/messages/${encodeURIComponent(messageId)}`, { body }),
  remove: (messageId) => request('DELETE', `/messages/${encodeURIComponent(messageId)}`),
  react: (messageId, emoji) => request('PUT', `/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`),
  unreact: (messageId, emoji) => request('DELETE', `/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`),
  receipt: (id, kind, seq) => request('POST', `/conversations/${encodeURIComponent(id)}/receipts`, { kind, seq }),
  typing: (id) => request('POST', `/conversations/${encodeURIComponent(id)}/typing`, {}),

  /** `{q, conversation, order, limit, cursor}` → `{hits, next_cursor}` (PROTOCOL.md, Search). */
  searchMessages: (params) => request('GET', `/search/messages${query(params)}`),
};
