// The only script of our own: ticks the outage clock between server updates. Everything else is
// server-rendered HTML swapped by htmx. The clock counts from the server's time, not the browser's,
// so a wrong clock on the participant's laptop does not change what they see.
(function () {
  function format(seconds) {
    if (seconds < 60) return seconds.toFixed(1) + " s";
    var m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (seconds < 3600) return m + " m " + String(s).padStart(2, "0") + " s";
    var h = Math.floor(seconds / 3600);
    return h + " h " + String(Math.floor((seconds % 3600) / 60)).padStart(2, "0") + " m";
  }
  function tick() {
    document.querySelectorAll("[data-clock-since]").forEach(function (el) {
      if (!el.dataset.offset) {
        el.dataset.offset = String(Number(el.dataset.serverNow) - Date.now());
      }
      var now = Date.now() + Number(el.dataset.offset);
      el.textContent = format(Math.max(0, (now - Number(el.dataset.clockSince)) / 1000));
    });
  }
  setInterval(tick, 250);
  document.addEventListener("htmx:afterSwap", tick);
})();
