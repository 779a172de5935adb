// Mentions in text, read as the server reads them (kanect-core `mentions::names`): `@` then
// username characters, where a username can start (the start of the text, or after a character
// that cannot be in a username, nor another `@`: `ann@example.com` names nobody), without a
// trailing `.` or `-` (`thanks @bob.` names bob); names compare case-insensitively. The server
// decides who a message mentions (its `mentions`); the app only finds where the names are, to
// style them, and the name being typed before the composer's caret, to complete it.

/** A character that may be in a username. */
const NAME_CHAR = /[A-Za-z0-9_.-]/;
/** A whole username (kanect-core `validate::username`). */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$/;

/** Whether `ch` (possibly undefined, before the start) lets a name begin after it. */
function canStartAfter(ch) {
  return ch === undefined || (!NAME_CHAR.test(ch) && ch !== '@');
}

/**
 * The mentions in `text` of the names in `names` (a Set of lower-case usernames), as
 * `[{start, end, name}]` in order (`end` past the name, the `@` included from `start`).
 */
export function findMentions(text, names) {
  const found = [];
  if (!names || !names.size) return found;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    if (!canStartAfter(text[at - 1])) continue;
    let end = at + 1;
    while (end < text.length && NAME_CHAR.test(text[end])) end++;
    while (end > at + 1 && (text[end - 1] === '.' || text[end - 1] === '-')) end--;
    const name = text.slice(at + 1, end);
    if (USERNAME.test(name) && names.has(name.toLowerCase())) found.push({ start: at, end, name });
  }
  return found;
}

/**
 * The name being typed before `caret` in `text`: `{start, query}` when the caret follows `@`
 * and username characters (none yet included) where a name can start, else null.
 */
export function mentionQuery(text, caret) {
  let at = caret;
  while (at > 0 && NAME_CHAR.test(text[at - 1])) at--;
  if (text[at - 1] !== '@' || !canStartAfter(text[at - 2])) return null;
  const query = text.slice(at, caret);
  return query.length <= 32 ? { start: at - 1, query } : null;
}
