// The service worker: shows a Web Push as a notification (the payload is the server's push
// notice: conversation, group, sender_name, preview), and opens the conversation on a click,
// in a Kanect tab if one is open. Served at /sw.js so that its scope is the whole app.

self.addEventListener('push', (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch (_) {
    notice = {};
  }
  const title = notice.group ? `${notice.sender_name} in ${notice.group}` : notice.sender_name || 'Kanect';
  const body = notice.preview || 'New message';
  event.waitUntil(self.registration.showNotification(title, {
    body,
    tag: notice.conversation ? `kanect-${notice.conversation}` : 'kanect',
    icon: '/favicon.svg',
    data: { conversation: notice.conversation || null },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversation = event.notification.data && event.notification.data.conversation;
  const target = conversation ? `/#/c/${conversation}` : '/';
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of windows) {
      if (new URL(client.url).origin === self.location.origin) {
        await client.focus();
        return client.navigate(target);
      }
    }
    return self.clients.openWindow(target);
  })());
});
