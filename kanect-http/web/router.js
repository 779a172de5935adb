// Hash routes (`#/login`, `#/c/<id>`...), so the server only ever serves index.html at `/`.
// Other views (e.g. an admin area) register their own routes with `route()`.

const routes = [];

/**
 * Registers a route: `pattern` is a RegExp matched against the hash path (without `#`);
 * `handler(match)` renders it. `auth`: 'user' (signed in), 'guest' (signed out) or 'any'.
 */
export function route(pattern, handler, auth = 'user') {
  routes.push({ pattern, handler, auth });
}

/** The current hash path, e.g. "/c/123". */
export function currentPath() {
  return location.hash.replace(/^#/, '') || '/';
}

/** Finds the route for a path, or null. */
export function match(path) {
  for (const r of routes) {
    const m = path.match(r.pattern);
    if (m) return { ...r, match: m };
  }
  return null;
}

/** Goes to a path. */
export function go(path) {
  if (currentPath() === path) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = `#${path}`;
}
