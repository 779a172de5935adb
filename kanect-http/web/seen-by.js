// The words of the "Seen by" line under my newest message that others in a group have read
// (views/chat.js places it; state.js `readersOf` says who). Short enough for one line on a
// phone: up to three names, then "and N others", or "everyone" when that is all of a larger
// group; the full list goes in its tooltip and shows on a click.

/** Names shown before "and N others". */
const NAMED = 3;

/** "A", "A and B", "A, B and C". */
function list(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0] || '';
}

/**
 * `{short, full}` for the readers' display names `names` (at least one); `everyone`: they are
 * all the other members.
 */
export function seenByText(names, everyone) {
  const full = `Seen by ${names.join(', ')}`;
  if (names.length <= NAMED) return { short: `Seen by ${list(names)}`, full };
  if (everyone) return { short: 'Seen by everyone', full };
  const others = names.length - (NAMED - 1);
  return { short: `Seen by ${names.slice(0, NAMED - 1).join(', ')} and ${others} others`, full };
}
