/* ptx web pages: large-text mode, live updates over server-sent events, small form helpers.
   Plain JavaScript, no dependencies, no build step. HTML received from the server was rendered by its
   template engine with autoescape on; nothing here builds markup from data. */
"use strict";

(function () {
  var LARGE_KEY = "ptx.largeText";

  // Applied at once (this script loads in <head>) so a projector never sees the small text first.
  function storedLarge() {
    try { return window.localStorage.getItem(LARGE_KEY) === "1"; } catch (e) { return false; }
  }
  if (storedLarge()) { document.documentElement.classList.add("large"); }

  function setLarge(on) {
    document.documentElement.classList.toggle("large", on);
    try { window.localStorage.setItem(LARGE_KEY, on ? "1" : "0"); } catch (e) { /* private mode: not kept */ }
    var button = document.getElementById("large-text");
    if (button) { button.setAttribute("aria-pressed", on ? "true" : "false"); }
  }

  function setLiveState(state) {
    var badge = document.getElementById("live-state");
    if (badge) { badge.setAttribute("data-state", state); }
  }

  function keysOf(container) {
    var keys = new Set();
    container.querySelectorAll("[data-key]").forEach(function (el) { keys.add(el.getAttribute("data-key")); });
    return keys;
  }

  function countsOf(container) {
    var counts = {};
    container.querySelectorAll("[data-count]").forEach(function (el) {
      counts[el.getAttribute("data-count")] = el.textContent;
    });
    return counts;
  }

  // Replace each region named in the snapshot; highlight rows and counters that changed.
  function applySnapshot(html) {
    Object.keys(html).forEach(function (id) {
      var region = document.getElementById(id);
      if (!region) { return; }
      var oldKeys = keysOf(region);
      var oldCounts = countsOf(region);
      region.innerHTML = html[id];
      region.querySelectorAll("[data-key]").forEach(function (el) {
        if (!oldKeys.has(el.getAttribute("data-key"))) { el.classList.add("fresh"); }
      });
      region.querySelectorAll("[data-count]").forEach(function (el) {
        var name = el.getAttribute("data-count");
        if (name in oldCounts && oldCounts[name] !== el.textContent && el.parentElement) {
          el.parentElement.classList.add("bump");
        }
      });
    });
  }

  // Streams end every few seconds by design and the browser reconnects at once; only a connection that stays
  // down for a while is shown as "reconnecting".
  function listen(src, onSnapshot) {
    if (!window.EventSource) { return; }
    var source = new EventSource(src);
    var down = null;
    function up() {
      if (down !== null) { window.clearTimeout(down); down = null; }
      setLiveState("live");
    }
    source.addEventListener("open", up);
    source.addEventListener("error", function () {
      if (down === null) { down = window.setTimeout(function () { setLiveState("reconnecting"); }, 3000); }
    });
    source.addEventListener("snapshot", function (event) {
      up();
      onSnapshot(JSON.parse(event.data));
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("large-text");
    if (button) {
      button.setAttribute("aria-pressed", storedLarge() ? "true" : "false");
      button.addEventListener("click", function () {
        setLarge(!document.documentElement.classList.contains("large"));
      });
    }

    // Filters apply as soon as one changes.
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });

    // Lists that update themselves: the snapshot carries escaped HTML for regions by id.
    document.querySelectorAll("[data-live-list]").forEach(function (el) {
      listen(el.getAttribute("data-src"), function (data) {
        if (data.html) { applySnapshot(data.html); }
      });
    });

    // Pages about one message reload when that message changes (new status, attempt or receipt).
    document.querySelectorAll("[data-live-message]").forEach(function (el) {
      listen(el.getAttribute("data-src"), function (data) {
        if (data.token && data.token !== el.getAttribute("data-token")) { window.location.reload(); }
      });
    });

    // The issue form: picking another type loads its example.
    document.querySelectorAll("select[data-reload-with]").forEach(function (select) {
      select.addEventListener("change", function () {
        var params = new URLSearchParams();
        params.set(select.name, select.value);
        var to = document.querySelector("select[name=to]");
        if (to && to.value) { params.set("to", to.value); }
        window.location.search = params.toString();
      });
    });
  });
})();
