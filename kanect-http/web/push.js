// Web Push for this browser: registers the service worker (/sw.js, scope /), subscribes with
// the server's VAPID key and hands the subscription to the server, or takes it back. Only
// from a user's click (the settings page's button): subscribing asks for the notification
// permission.

import { api } from './api.js';

/** Whether this browser can take pushes. */
export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && typeof Notification !== 'undefined';
}

async function registration() {
  return navigator.serviceWorker.register('/sw.js', { scope: '/' });
}

/** The current subscription, or null. */
export async function current() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Subscribes this browser and tells the server. Resolves to true once subscribed. */
export async function enable() {
  if (!supported()) return false;
  if ((await Notification.requestPermission()) !== 'granted') return false;
  const { public_key: key } = await api.pushKey();
  const reg = await registration();
  await navigator.serviceWorker.ready;
  const subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api.pushSubscribe(subscription.toJSON());
  return true;
}

/** Unsubscribes this browser and tells the server. */
export async function disable() {
  const subscription = await current();
  if (!subscription) return;
  await api.pushUnsubscribe(subscription.endpoint).catch(() => {});
  await subscription.unsubscribe();
}
