// Peerline's service worker: shows Web Push notifications (their text is generic by design) and forgets
// everything on quick exit. It caches no page: a case must never be readable offline from this device.
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener("push", function (e) {
  var data = {};
  try { data = e.data ? e.data.json() : {}; } catch (err) { data = {}; }
  e.waitUntil(self.registration.showNotification(data.title || "Peerline", {
    body: data.body || "Open Peerline", data: { link: data.url || "/" }, tag: "peerline",
  }));
});
self.addEventListener("notificationclick", function (e) {
  e.notification.close();
  var link = new URL(e.notification.data.link || "/", self.location.origin);
  if (link.origin !== self.location.origin) link = new URL("/", self.location.origin);
  e.waitUntil(self.clients.openWindow(link.pathname + link.search));
});
self.addEventListener("message", function (e) {
  if (e.data && e.data.type === "exit") {
    e.waitUntil(caches.keys().then(function (keys) { return Promise.all(keys.map(function (k) { return caches.delete(k); })); }));
  }
});
