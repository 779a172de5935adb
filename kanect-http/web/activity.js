// Whether someone is at this device: input (keys, pointer, touch) and the tab coming back into
// view are reported to the server as the `activity` frame. A user none of whose devices
// reported for a while (the server's --away-after, which `hello` says) shows as away
// (PROTOCOL.md, `presence`). Nothing is sent while the tab is hidden.
//
// Reports are spaced out, since each is a frame: at most one a minute, or one per half the
// server's away time when that is shorter. Half, so that someone at the device reports again
// before the away time runs out, and a user who comes back after it ran out (their last report
// longer ago than the whole of it) reports at the first key or click.

import { state } from './state.js';

/** The least time between two reports, whatever the server's away time. */
const REPORT_AT_MOST_EVERY_MS = 60_000;

let lastReport = 0;

/** The least time between two reports on this server. */
function reportEvery() {
  const awayAfter = state.limits.awayAfterMs;
  return awayAfter ? Math.min(REPORT_AT_MOST_EVERY_MS, awayAfter / 2) : REPORT_AT_MOST_EVERY_MS;
}

/** Starts reporting activity through `report()` (which sends the frame, if it can). */
export function installActivityReports(report) {
  const seen = () => {
    if (document.visibilityState !== 'visible') return;
    const now = Date.now();
    if (now - lastReport < reportEvery()) return;
    if (report()) lastReport = now;
  };
  for (const type of ['keydown', 'pointerdown', 'touchstart', 'wheel']) {
    window.addEventListener(type, seen, { passive: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      lastReport = 0; // back at the tab: say so now
      seen();
    }
  });
}
