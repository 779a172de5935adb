// Human times: "14:03", "Yesterday", "last seen 5 min ago". Timestamps are ms since the epoch.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const shortDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The time of day, "14:03". */
export function timeOfDay(ms) {
  return clock.format(new Date(ms));
}

/** A full date and time, for tooltips. */
export function fullTime(ms) {
  return full.format(new Date(ms));
}

/** A day separator label: "Today", "Yesterday", "Monday", "3 Mar", "3 Mar 2024". */
export function dayLabel(ms, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY);
  if (days <= 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days < 7) return weekday.format(new Date(ms));
  return new Date(ms).getFullYear() === new Date(now).getFullYear()
    ? shortDate.format(new Date(ms)) : longDate.format(new Date(ms));
}

/** The key of a message's day, to place separators. */
export function dayKey(ms) {
  return startOfDay(ms);
}

/** A compact time for the conversation list: "14:03", "Yesterday", "3 Mar". */
export function listTime(ms, now = Date.now()) {
  const label = dayLabel(ms, now);
  return label === 'Today' ? timeOfDay(ms) : label;
}

/** "last seen just now / 5 min ago / at 14:03 / yesterday at 14:03 / on 3 Mar". */
export function lastSeen(ms, now = Date.now()) {
  if (!ms) return 'offline';
  const ago = now - ms;
  if (ago < MINUTE) return 'last seen just now';
  if (ago < HOUR) return `last seen ${Math.floor(ago / MINUTE)} min ago`;
  const label = dayLabel(ms, now);
  if (label === 'Today') return `last seen at ${timeOfDay(ms)}`;
  if (label === 'Yesterday') return `last seen yesterday at ${timeOfDay(ms)}`;
  return `last seen ${label.match(/^\d/) ? 'on ' : ''}${label}`;
}
