// Whether someone is at this device: input (keys, pointer, touch) and the tab coming back into
// view are reported to the server, at most once a minute, as the `activity` frame. A user none
// of whose devices reported for a while (the server's --away-after-minutes) shows as away
// (PROTOCOL.md, `presence`). Nothing is sent while the tab is hidden.

/** The least time between two reports. */
const REPORT_EVERY_MS = 60_000;

let lastReport = 0;

/** Starts reporting activity through `report()` (which sends the frame, if it can). */
export function installActivityReports(report) {
  const seen = () => {
    if (document.visibilityState !== 'visible') return;
    const now = Date.now();
    if (now - lastReport < REPORT_EVERY_MS) return;
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
