// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 52rem)");
  var filtersOpen = null; // the reader's own choice on a narrow screen, kept across swaps
  var pendingFilter = null; // a facet filter typed while its full group was loading

  function searchInput() {
    return document.querySelector("[data-focus-key]");
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function announce(text) {
    var region = document.getElementById("announce") || document.querySelector(".copy-status");
    if (region) region.textContent = text;
  }

  // --- keyboard: "/" search, j/k move through results, Enter opens (a focused link), "?" lists them ---

  function hitLinks() {
    return Array.prototype.slice.call(document.querySelectorAll(".hit-list [data-hit-link]"));
  }

  function moveThroughResults(step) {
    var links = hitLinks();
    if (!links.length) return;
    var current = links.indexOf(document.activeElement);
    if (current < 0) {
      var marked = document.querySelector(".hit.is-current [data-hit-link]");
      current = marked ? links.indexOf(marked) : (step > 0 ? -1 : links.length);
    }
    var next = Math.max(0, Math.min(links.length - 1, current + step));
    document.querySelectorAll(".hit.is-current").forEach(function (hit) { hit.classList.remove("is-current"); });
    var link = links[next];
    link.closest(".hit").classList.add("is-current");
    link.focus({ preventScroll: true });
    link.closest(".hit").scrollIntoView({ block: "nearest" });
  }

  function showShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open && dialog.showModal) dialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "/") {
      var input = searchInput();
      if (!input) return;
      event.preventDefault();
      input.focus();
      input.select();
    } else if (event.key === "j" || event.key === "k") {
      if (!hitLinks().length) return;
      event.preventDefault();
      moveThroughResults(event.key === "j" ? 1 : -1);
    } else if (event.key === "?") {
      event.preventDefault();
      showShortcuts();
    } else if (event.key === "Escape" && NARROW.matches) {
      closeFilters();
    }
  });

  // --- copying: a link (data-copy), an element's text (data-copy-from), a row's BibTeX (data-cite) ---

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

  // Fetched text copied within the click: a ClipboardItem takes the promise itself, which is
  // what browsers that insist on a user gesture (Safari) accept.
  function copyFetched(url) {
    var text = fetch(url, { headers: { Accept: "application/x-bibtex" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    });
    if (navigator.clipboard && navigator.clipboard.write && window.ClipboardItem && window.isSecureContext) {
      var item = new ClipboardItem({ "text/plain": text.then(function (t) { return new Blob([t], { type: "text/plain" }); }) });
      return navigator.clipboard.write([item]).catch(function () { return text.then(copy); });
    }
    return text.then(copy);
  }

  function flash(element, doneText) {
    var label = element.dataset.label || element.textContent;
    element.dataset.label = label;
    element.classList.add("is-done");
    element.textContent = doneText;
    window.setTimeout(function () {
      element.classList.remove("is-done");
      element.textContent = label;
    }, 1500);
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

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    if (!target) return;
    var cite = target.closest("[data-cite]");
    if (cite) {
      event.preventDefault();
      copyFetched(cite.getAttribute("href")).then(function () {
        flash(cite, "Copied");
        announce("BibTeX copied");
      }, function () {
        window.location.href = cite.getAttribute("href"); // the entry itself, to copy by hand
      });
      return;
    }
    var more = target.closest("[data-more-authors]");
    if (more) {
      event.preventDefault();
      var rest = more.parentElement.querySelector(".authors-rest");
      if (!rest) return;
      rest.hidden = false;
      more.remove();
      var first = rest.querySelector("a");
      if (first) first.focus();
      return;
    }
    if (target.matches("details.filters")) { // its backdrop, on a phone
      closeFilters();
      return;
    }
    if (target.closest("[data-open-filters]")) {
      openFilters();
      return;
    }
    if (target.closest("[data-close-filters]")) {
      closeFilters();
      var hits = document.querySelector(".hits");
      if (hits) hits.scrollIntoView({ block: "start" });
    }
  });

  // --- filters: a sidebar on a wide screen, a drawer on a phone that closes once a choice is made ---

  function filtersDetails() {
    return document.querySelector("details.filters");
  }

  function openFilters() {
    var details = filtersDetails();
    if (!details) return;
    filtersOpen = true;
    details.open = true;
    var first = details.querySelector("[data-close-filters]");
    if (first) first.focus();
  }

  function closeFilters() {
    var details = filtersDetails();
    if (!details || !NARROW.matches || !details.open) return;
    filtersOpen = false;
    details.open = false;
  }

  function arrangeFilters(root) {
    var details = root.querySelector ? root.querySelector("details.filters") : null;
    if (!details) return;
    if (!NARROW.matches) {
      details.open = true;
    } else {
      details.open = filtersOpen === null ? false : filtersOpen;
    }
    document.documentElement.classList.toggle("drawer-open", NARROW.matches && details.open);
    details.querySelectorAll("[data-close-filters]").forEach(function (b) { b.hidden = false; });
    var badge = details.querySelector(".badge");
    var active = badge ? parseInt(badge.textContent, 10) : 0;
    document.querySelectorAll("[data-open-filters]").forEach(function (b) {
      b.hidden = false;
      b.textContent = active ? "Filters (" + active + ")" : "Filters";
    });
    if (!details.dataset.ready) {
      details.dataset.ready = "1";
      details.addEventListener("toggle", function () {
        if (NARROW.matches) filtersOpen = details.open;
        document.documentElement.classList.toggle("drawer-open", NARROW.matches && details.open);
      });
    }
  }

  // A filter box in long facet groups: it narrows the listed values, and first loads the whole
  // group ("show all") when part of it is folded away.
  function applyFacetFilter(group, text) {
    var needle = text.trim().toLowerCase();
    var shown = 0;
    group.querySelectorAll("li.facet").forEach(function (item) {
      var label = (item.querySelector(".facet-label") || item).textContent.toLowerCase();
      var match = !needle || label.indexOf(needle) >= 0 || item.dataset.facet.indexOf(needle) >= 0;
      item.hidden = !match;
      if (match) shown++;
    });
    var none = group.querySelector(".facet-none");
    if (none) none.hidden = shown > 0;
  }

  function setupFacetFilters(root) {
    root.querySelectorAll(".facet-filter").forEach(function (input) {
      input.hidden = false;
      if (input.dataset.ready) return;
      input.dataset.ready = "1";
      var group = input.closest(".facet-group");
      input.addEventListener("input", function () {
        var showAll = group.querySelector("[data-show-all]");
        if (showAll && window.htmx) {
          pendingFilter = { kind: group.dataset.kind, value: input.value };
          if (!showAll.dataset.loading) {
            showAll.dataset.loading = "1";
            window.htmx.trigger(showAll, "click");
          }
          applyFacetFilter(group, input.value);
          return;
        }
        applyFacetFilter(group, input.value);
      });
    });
    if (pendingFilter) {
      var group = root.querySelector('.facet-group[data-kind="' + pendingFilter.kind + '"]');
      var box = group && group.querySelector(".facet-filter");
      if (box) {
        box.value = pendingFilter.value;
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
        applyFacetFilter(group, box.value);
      }
      pendingFilter = null;
    }
  }

  // --- reading lists: ticked papers kept in this browser, one shareable /list address ---

  var LIST_KEY = "reading-list";
  var LIST_MAX = 100;

  function readList() {
    try {
      var value = JSON.parse(window.localStorage.getItem(LIST_KEY) || "[]");
      return Array.isArray(value) ? value.filter(function (k) { return typeof k === "string"; }) : [];
    } catch (e) {
      return [];
    }
  }

  function writeList(keys) {
    try { window.localStorage.setItem(LIST_KEY, JSON.stringify(keys.slice(0, LIST_MAX))); } catch (e) { /* private mode */ }
  }

  function listUrl(keys) {
    return "/list?ids=" + keys.map(encodeURIComponent).join(",");
  }

  function showTray() {
    var tray = document.querySelector("[data-tray]");
    if (!tray) return;
    var keys = readList();
    tray.hidden = keys.length === 0;
    tray.querySelector("[data-tray-count]").textContent =
      keys.length + (keys.length === 1 ? " paper" : " papers") + " in your reading list.";
    tray.querySelector("[data-tray-open]").setAttribute("href", listUrl(keys));
    document.documentElement.classList.toggle("has-tray", keys.length > 0);
  }

  function setupPicks(root) {
    var keys = readList();
    root.querySelectorAll("[data-pick]").forEach(function (box) {
      box.checked = keys.indexOf(box.value) >= 0;
    });
    document.querySelectorAll(".list-form").forEach(function (form) { form.hidden = true; });
    document.querySelectorAll("[data-keep-list]").forEach(function (b) { b.hidden = false; });
    showTray();
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-pick]")) return;
    var keys = readList().filter(function (k) { return k !== box.value; });
    if (box.checked) keys.push(box.value);
    if (keys.length > LIST_MAX) {
      box.checked = false;
      announce("A reading list holds at most " + LIST_MAX + " papers");
      return;
    }
    writeList(keys);
    showTray();
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest("[data-tray-clear]")) {
      writeList([]);
      setupPicks(document);
    } else if (target.closest("[data-keep-list]")) {
      var given = target.closest("[data-keep-list]").dataset.keepList.split(",").filter(Boolean);
      var keys = readList();
      given.forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
      writeList(keys);
      setupPicks(document);
      var status = document.querySelector(".copy-status");
      if (status) status.textContent = "Kept in this browser";
    }
  });

  // --- htmx ---

  function syncSearchBox() {
    var results = document.getElementById("results");
    var input = document.getElementById("q");
    if (!results || !input) return;
    // Keep what is being typed; otherwise show the query the results are for (did-you-mean, back).
    if (document.activeElement !== input && input.value !== results.dataset.q) {
      input.value = results.dataset.q || "";
    }
  }

  // The tag list's filter box: names, codes and descriptions, groups without a match hidden.
  function setupTagFilter(root) {
    var input = root.querySelector ? root.querySelector("[data-tag-filter]") : null;
    if (!input || input.dataset.ready) return;
    input.dataset.ready = "1";
    input.closest("[hidden]") && (input.closest("[hidden]").hidden = false);
    var count = document.querySelector("[data-tag-filter-count]");
    var none = document.querySelector("[data-tag-none]");
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var total = 0;
      document.querySelectorAll(".tag-group").forEach(function (group) {
        var shown = 0;
        group.querySelectorAll("li[data-tag-text]").forEach(function (item) {
          var match = !needle || item.dataset.tagText.indexOf(needle) >= 0;
          item.hidden = !match;
          if (match) shown++;
        });
        group.hidden = shown === 0;
        total += shown;
      });
      if (count) count.textContent = needle ? total + (total === 1 ? " tag" : " tags") : "";
      if (none) none.hidden = total > 0;
    });
  }

  function enhance(root) {
    setupPicks(root);
    setupCopyButtons(root);
    setupFacetFilters(root);
    setupTagFilter(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    arrangeFilters(document);
  });
  NARROW.addEventListener("change", function () { arrangeFilters(document); });

  // A choice made in the phone's filter drawer closes it, so the new results are what one sees.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (NARROW.matches && elt && elt.closest && elt.closest(".facets") && !elt.hasAttribute("data-show-all")) {
      filtersOpen = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    arrangeFilters(document);
    enhance(document);
    if (!target || target.id !== "results") return;
    syncSearchBox();
    var region = document.getElementById("announce");
    var swapped = document.getElementById("results");
    if (region && swapped) region.textContent = swapped.dataset.summary || "";
    var trigger = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    // After a click inside the results (page, sort, facet), bring their top into view and focus.
    if (swapped && trigger && trigger.tagName === "A") {
      var anchor = NARROW.matches ? document.querySelector(".hits") : swapped;
      var top = anchor.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight * 0.6) anchor.scrollIntoView({ block: "start" });
      var heading = document.getElementById("result-count");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
  });

  // A query the cost model refuses is answered 422 with the results region saying why: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422 && event.detail.target &&
        event.detail.target.id === "results") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // An empty query is the same view as no query: keep `q=` out of pushed URLs.
  document.addEventListener("htmx:configRequest", function (event) {
    var params = event.detail.parameters;
    if (event.detail.verb !== "get" || !params) return;
    ["q", "from", "to"].forEach(function (name) { if (params[name] === "") delete params[name]; });
    // Sent while typing: the server reads the last word as a prefix (a submitted query means what it says).
    var cause = event.detail.triggeringEvent;
    if (cause && cause.type === "input") event.detail.headers["HX-Live"] = "1";
  });

  // Back/forward restore a snapshot of the page: the search box shows the restored query.
  document.addEventListener("htmx:historyRestore", function () {
    var input = document.getElementById("q");
    if (input) input.value = new URLSearchParams(window.location.search).get("q") || "";
    arrangeFilters(document);
    enhance(document);
  });
})();
