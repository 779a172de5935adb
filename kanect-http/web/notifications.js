// What notifies this user in this browser: their notification settings (levels per
// conversation, mutes with an end, the do-not-disturb) as the server keeps them, the same
// rule the server applies (should_notify in kanect-core), and the desktop notification and
// optional sound for a new message while the tab is hidden.
//
// The settings arrive with the session (GET /notifications) and again in every
// `notification_settings` frame, so a change made on another device holds here at once.
// Permission is asked only from a user's click (requestPermission below is called by the
// settings page's button), never on load. The sound is a short WebAudio tone, off by default,
// chosen per browser (localStorage).

const SOUND_KEY = 'kanect.notify.sound';

/** The one piece of state: the settings as last received, and this browser's sound choice. */
const store = {
  settings: { do_not_disturb: null, conversations: [] },
  listeners: new Set(),
};

/** Replaces the settings (from the server) and tells the listeners. */
export function setSettings(settings) {
  store.settings = { do_not_disturb: settings.do_not_disturb || null, conversations: settings.conversations || [] };
  for (const fn of store.listeners) fn(store.settings);
}

/** The settings as last received. */
export function settings() {
  return store.settings;
}

/** Calls `fn(settings)` on every change; returns the function that stops it. */
export function onSettings(fn) {
  store.listeners.add(fn);
  return () => store.listeners.delete(fn);
}

/** The level in force now in a conversation: 'all', 'mentions' or 'muted'. */
export function levelOf(conversationId, now = Date.now()) {
  const entry = store.settings.conversations.find((c) => c.conversation === conversationId);
  if (!entry) return 'all';
  if (entry.level === 'muted' && entry.until != null && entry.until <= now) return 'all';
  return entry.level;
}

/** The end of a conversation's mute, or null. */
export function mutedUntil(conversationId) {
  const entry = store.settings.conversations.find((c) => c.conversation === conversationId);
  return entry && entry.level === 'muted' ? entry.until ?? null : null;
}

/** Whether the do-not-disturb is on now. */
export function doNotDisturb(now = Date.now()) {
  const dnd = store.settings.do_not_disturb;
  return Boolean(dnd) && (dnd.until == null || now < dnd.until);
}

/** The server's rule: should `me` hear of `message` now (interrupting: desktop, sound)? */
export function shouldNotify(message, me, now = Date.now()) {
  if (!me || message.sender === me || message.deleted || message.event) return false;
  if (doNotDisturb(now)) return false;
  const level = levelOf(message.conversation, now);
  if (level === 'muted') return false;
  if (level === 'mentions') return Boolean(message.mentions && message.mentions.includes(me));
  return true;
}

/** Whether this browser can show desktop notifications at all. */
export function supported() {
  return typeof Notification !== 'undefined';
}

/** 'granted', 'denied', 'default' or 'unsupported'. */
export function permission() {
  return supported() ? Notification.permission : 'unsupported';
}

/** Asks for permission: call it only from a click. Resolves to the permission. */
export async function requestPermission() {
  if (!supported()) return 'unsupported';
  return Notification.requestPermission();
}

/** Whether the sound is on in this browser. */
export function soundOn() {
  return localStorage.getItem(SOUND_KEY) === 'on';
}

/** Turns the sound on or off in this browser. */
export function setSound(on) {
  if (on) localStorage.setItem(SOUND_KEY, 'on');
  else localStorage.removeItem(SOUND_KEY);
}

/** A short two-note tone. */
export function beep() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  const audio = new Context();
  const gain = audio.createGain();
  gain.connect(audio.destination);
  gain.gain.setValueAtTime(0.0001, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.15, audio.currentTime + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
  const tone = audio.createOscillator();
  tone.frequency.setValueAtTime(880, audio.currentTime);
  tone.frequency.setValueAtTime(1320, audio.currentTime + 0.12);
  tone.connect(gain);
  tone.start();
  tone.stop(audio.currentTime + 0.4);
  tone.onended = () => audio.close();
}

/**
 * A new message arrived: while the tab is hidden and the rule says so, shows a desktop
 * notification (one per message; the tag per conversation replaces the last one, also one a
 * Web Push showed) and plays the sound if on. `title` and `body` are plain text.
 */
export function notifyMessage(message, me, { title, body, onOpen }) {
  if (document.visibilityState !== 'hidden' || !shouldNotify(message, me)) return false;
  if (permission() === 'granted') {
    const shown = new Notification(title, { body, tag: `kanect-${message.conversation}`, icon: '/favicon.svg' });
    shown.onclick = () => {
      window.focus();
      if (onOpen) onOpen();
      shown.close();
    };
  }
  if (soundOn()) beep();
  return true;
}
