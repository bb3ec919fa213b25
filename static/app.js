// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 52rem)");
  var filtersOpen = null; // the reader's own choice on a narrow screen, kept across swaps

  function searchInput() {
    return document.querySelector("[data-focus-key]");
  }

  // "/" focuses the search box, unless the reader is typing somewhere already.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var input = searchInput();
    if (!input) return;
    event.preventDefault();
    input.focus();
    input.select();
  });

  // Copy buttons: the link itself (data-copy) or an element's text (data-copy-from).
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function setupCopyButtons(root) {
    root.querySelectorAll("[data-copy], [data-copy-from]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.addEventListener("click", function () {
        var text = button.dataset.copy;
        if (!text && button.dataset.copyFrom) {
          var source = document.getElementById(button.dataset.copyFrom);
          text = source ? source.textContent : "";
        }
        var status = document.querySelector(".copy-status");
        copy(text).then(function () {
          if (status) status.textContent = button.dataset.copied || "Copied";
          button.classList.add("is-done");
          window.setTimeout(function () { button.classList.remove("is-done"); }, 1500);
        }, function () {
          if (status) status.textContent = "Could not copy; select the text instead";
        });
      });
    });
  }

  // On a phone the filters fold away; on a wide screen they are always open.
  function arrangeFilters(root) {
    var details = root.querySelector ? root.querySelector("details.filters") : null;
    if (!details) return;
    if (!NARROW.matches) {
      details.open = true;
    } else {
      details.open = filtersOpen === null ? false : filtersOpen;
    }
    if (!details.dataset.ready) {
      details.dataset.ready = "1";
      details.addEventListener("toggle", function () {
        if (NARROW.matches) filtersOpen = details.open;
      });
    }
  }

  function syncSearchBox() {
    var results = document.getElementById("results");
    var input = document.getElementById("q");
    if (!results || !input) return;
    // Keep what is being typed; otherwise show the query the results are for (did-you-mean, back).
    if (document.activeElement !== input && input.value !== results.dataset.q) {
      input.value = results.dataset.q || "";
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopyButtons(document);
    arrangeFilters(document);
  });
  NARROW.addEventListener("change", function () { arrangeFilters(document); });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    arrangeFilters(document);
    setupCopyButtons(document);
    syncSearchBox();
    var announce = document.getElementById("announce");
    var swapped = document.getElementById("results");
    if (announce && swapped) announce.textContent = swapped.dataset.summary || "";
    var trigger = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    var results = document.getElementById("results");
    // After a click inside the results (page, sort, facet), bring their top into view and focus.
    if (results && trigger && trigger.tagName === "A" && target && target.id === "results") {
      var top = results.getBoundingClientRect().top;
      if (top < 0) results.scrollIntoView({ block: "start" });
      var heading = document.getElementById("result-count");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
  });

  // An empty query is the same view as no query: keep `q=` out of pushed URLs.
  document.addEventListener("htmx:configRequest", function (event) {
    var params = event.detail.parameters;
    if (event.detail.verb === "get" && params && params.q === "") delete params.q;
    // Sent while typing: the server reads the last word as a prefix (a submitted query means what it says).
    var cause = event.detail.triggeringEvent;
    if (cause && cause.type === "input") event.detail.headers["HX-Live"] = "1";
  });

  // Back/forward restore a snapshot of the page: the search box shows the restored query.
  document.addEventListener("htmx:historyRestore", function () {
    var input = document.getElementById("q");
    if (input) input.value = new URLSearchParams(window.location.search).get("q") || "";
    arrangeFilters(document);
    setupCopyButtons(document);
  });
})();
