// Quick exit (the button, or Escape pressed three times), live status by server-sent events, and the
// service worker for Web Push. No inline script: the page's CSP allows only these files.
(function () {
  "use strict";
  var leaving = false;
  function quickExit() {
    if (leaving) return;
    leaving = true;
    var app = document.getElementById("app");
    var form = document.getElementById("quick-exit");
    try { sessionStorage.clear(); localStorage.clear(); } catch (e) { /* storage may be off */ }
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "exit" });
    }
    // End the session (its answer clears the site's cookies), but never wait more than a moment.
    var ended = form
      ? fetch("/exit", { method: "POST", body: new FormData(form), keepalive: true })
      : Promise.resolve();
    var moment = new Promise(function (resolve) { setTimeout(resolve, 400); });
    Promise.race([ended, moment]).catch(function () {}).then(function () {
      location.replace((app && app.dataset.exit) || "/bye");
    });
  }
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "quick-exit") { e.preventDefault(); quickExit(); }
  }, true);
  var presses = [];
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var now = Date.now();
    presses = presses.filter(function (t) { return now - t < 2000; });
    presses.push(now);
    if (presses.length >= 3) quickExit();
  });

  var streams = [];
  function live(root) {
    root.querySelectorAll("[data-live]").forEach(function (el) {
      var source = new EventSource(el.dataset.live);
      streams.push(source);
      source.addEventListener("status", function (e) { el.innerHTML = e.data; });
    });
  }
  document.addEventListener("htmx:beforeSwap", function () {
    streams.forEach(function (s) { s.close(); });
    streams = [];
  });
  htmx.onLoad(live);

  // Offer countdowns: the server renders the seconds left at each poll; this ticks them in between.
  setInterval(function () {
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var left = Math.max(0, parseInt(el.dataset.seconds, 10) - 1);
      el.dataset.seconds = String(left);
      el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    });
  }, 1000);

  function b64ToBytes(s) {
    var raw = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }
  function offerPush(root) {
    var button = root.querySelector("#push-on");
    if (!button || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.serviceWorker.ready.then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(button.dataset.key) });
      }).then(function (sub) {
        var token = JSON.parse(document.getElementById("app").getAttribute("hx-headers"))["X-CSRF-Token"];
        return fetch("/me/notifications/push", {
          method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
          body: JSON.stringify(sub.toJSON()),
        });
      }).then(function () { location.replace("/me/notifications"); });
    });
  }
  htmx.onLoad(offerPush);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js");
})();
