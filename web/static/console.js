// Gatehouse console: progressive enhancements only. Every page works
// without this file (the Content-Security-Policy forbids inline script,
// so all behaviour lives here).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Copy a secret to the clipboard.
    document.querySelectorAll(".js-copy").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var input = document.getElementById(btn.getAttribute("data-copy-target"));
        if (!input) return;
        var done = function () {
          var label = btn.textContent;
          btn.textContent = btn.getAttribute("data-copied") || label;
          setTimeout(function () { btn.textContent = label; }, 2000);
        };
        input.select();
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(input.value).then(done, function () {
            if (document.execCommand("copy")) done();
          });
        } else if (document.execCommand("copy")) {
          done();
        }
      });
    });
    document.querySelectorAll("input.secret").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });

    // Times: the server writes them in UTC ("2026-03-01 12:00 UTC", or a
    // date); show them in the reader's time zone and the page's language,
    // keeping the UTC time they mean in the tooltip. An expiry entered in
    // UTC (Expired At) shows the local time it means as it is typed.
    // The user's time zone setting wins over the browser's.
    var lang = document.documentElement.lang || undefined;
    var zone = document.body.getAttribute("data-time-zone") || undefined;
    function localFormat(dateOnly) {
      var o = { year: "numeric", month: "short", day: "numeric", timeZone: zone };
      if (!dateOnly) { o.hour = "2-digit"; o.minute = "2-digit"; o.timeZoneName = "short"; }
      try { return new Intl.DateTimeFormat(lang, o); } catch (err) { return null; }
    }
    var intl = !!(window.Intl && Intl.DateTimeFormat);
    var withTime = intl ? localFormat(false) : null, dateOnly = intl ? localFormat(true) : null;
    // localizeTimes rewrites the times under root (the page, or a
    // confirmation dialog's content).
    function localizeTimes(root) {
      if (!intl) return;
      root.querySelectorAll("time[datetime]").forEach(function (el) {
        var d = new Date(el.getAttribute("datetime"));
        var utc = el.textContent.trim();
        var f = /\d:\d/.test(utc) ? withTime : dateOnly;
        if (isNaN(d.getTime()) || !f) return;
        if (!el.title) el.title = utc;
        el.textContent = f.format(d);
      });
    }
    localizeTimes(document);
    if (intl) {
      document.querySelectorAll("input[name=expires_at][type=datetime-local]").forEach(function (input) {
        var out = document.createElement("p");
        out.className = "help js-local-time";
        out.setAttribute("aria-live", "polite");
        input.insertAdjacentElement("afterend", out);
        function show() {
          var d = new Date(input.value + (input.value.length === 16 ? ":00Z" : "Z"));
          out.textContent = input.value && !isNaN(d.getTime()) && withTime ? "= " + withTime.format(d) : "";
        }
        input.addEventListener("input", show);
        show();
      });
    }

    // Navigation: on a narrow screen the sidebar folds into a menu behind
    // the Menu button (the CSS shows the button only there). Esc closes
    // the open menu and returns to the button.
    var navWrap = document.getElementById("nav-wrap");
    var navToggle = navWrap && navWrap.querySelector(".nav-toggle");
    if (navToggle) {
      var setNav = function (open) {
        navWrap.classList.toggle("nav-open", open);
        navToggle.setAttribute("aria-expanded", open ? "true" : "false");
      };
      navToggle.addEventListener("click", function () {
        setNav(navToggle.getAttribute("aria-expanded") !== "true");
      });
      navWrap.addEventListener("keydown", function (e) {
        if (e.key === "Escape" && navToggle.getAttribute("aria-expanded") === "true") {
          setNav(false);
          navToggle.focus();
        }
      });
    }

    // Confirmations as dialogs (seed 001's popup): a link marked
    // data-confirm-dialog fetches its confirmation page (same origin) and
    // shows the page's title, question and form (its CSRF token included)
    // in a modal <dialog>; Esc or Cancel closes it and focus returns to the
    // link. Without JavaScript, with a modifier key, or when the page is
    // not a confirmation (an expired session, an error), the link opens
    // the full page.
    var canDialog = typeof HTMLDialogElement === "function" && !!window.fetch && !!window.DOMParser;
    function openConfirm(a) {
      fetch(a.href, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (res) {
        if (!res.ok || res.redirected) throw new Error("not a confirmation page");
        return res.text();
      }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var card = doc.querySelector("main [role=alertdialog]");
        if (!card || !card.querySelector("form[method=post]")) throw new Error("no confirmation form");
        var heading = doc.querySelector("main h1");
        var dialog = document.createElement("dialog");
        dialog.className = "confirm-dialog";
        dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
        var title = document.createElement("h2");
        title.id = "confirm-dialog-title";
        title.textContent = (heading || a).textContent.trim();
        dialog.appendChild(title);
        var body = document.createElement("div");
        body.className = "confirm-dialog-body";
        while (card.firstChild) body.appendChild(document.adoptNode(card.firstChild));
        dialog.appendChild(body);
        var question = body.querySelector("#confirm-question");
        if (question) dialog.setAttribute("aria-describedby", question.id);
        // The page's Cancel link becomes a button that closes the dialog;
        // it takes the focus first (the safe choice).
        body.querySelectorAll("form a.btn").forEach(function (link) {
          var cancel = document.createElement("button");
          cancel.type = "button";
          cancel.className = link.className + " js-dialog-cancel";
          cancel.textContent = link.textContent;
          cancel.autofocus = true;
          cancel.addEventListener("click", function () { dialog.close(); });
          link.replaceWith(cancel);
        });
        dialog.addEventListener("close", function () {
          dialog.remove();
          a.focus();
        });
        localizeTimes(body);
        document.body.appendChild(dialog);
        dialog.showModal();
      }).catch(function () {
        window.location.assign(a.href);
      });
    }
    document.addEventListener("click", function (e) {
      var a = e.target.closest ? e.target.closest("a[data-confirm-dialog]") : null;
      if (!a || !canDialog || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      openConfirm(a);
    });

    // Quick expiry choices fill the date input (UTC dates).
    document.querySelectorAll(".js-expire-in").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var input = document.getElementById("pat-expires");
        if (!input) return;
        var days = btn.getAttribute("data-days");
        if (!days) { input.value = ""; return; }
        var d = new Date();
        d.setUTCDate(d.getUTCDate() + parseInt(days, 10));
        input.value = d.toISOString().slice(0, 10);
      });
    });

    // Tabs within a page (Add / Edit Integration: Integration Info and
    // API): without JavaScript both panels show one under the other.
    document.querySelectorAll(".js-tabs").forEach(function (nav) {
      var links = nav.querySelectorAll("a[href^='#']");
      function show(id) {
        links.forEach(function (a) {
          var panel = document.getElementById(a.getAttribute("href").slice(1));
          var on = a.getAttribute("href") === "#" + id;
          if (panel) panel.hidden = !on;
          if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
        });
      }
      links.forEach(function (a) {
        a.addEventListener("click", function (e) { e.preventDefault(); show(a.getAttribute("href").slice(1)); });
      });
      show(nav.getAttribute("data-active-tab") || links[0].getAttribute("href").slice(1));
      // A required input on a hidden tab: show its tab so the browser can
      // point at it.
      var form = nav.closest("form");
      if (form) {
        form.addEventListener("invalid", function (e) {
          var panel = e.target.closest(".js-tab-panel");
          if (panel && panel.hidden) show(panel.id);
        }, true);
      }
    });

    // Resource Access: All grants everything, so the tree is disabled.
    var access = document.querySelectorAll(".js-resource-access");
    var resourceTree = document.querySelector(".js-resource-tree");
    function syncAccess() {
      if (!resourceTree) return;
      var all = false;
      access.forEach(function (r) { if (r.checked && r.value === "all") all = true; });
      resourceTree.disabled = all;
    }
    access.forEach(function (r) { r.addEventListener("change", syncAccess); });
    syncAccess();

    // The identity link opens in a popup (Magento's login or sign-up at
    // the third party); a blocked popup leaves the link to click. The
    // popup gets no handle on the console.
    document.querySelectorAll(".js-popup").forEach(function (a) {
      function open() {
        var w = window.open(a.href, "gatehouse_identity", "popup=yes,width=760,height=720");
        if (w) { try { w.opener = null; } catch (err) { /* cross-origin */ } }
        return w;
      }
      a.addEventListener("click", function (e) { if (open()) e.preventDefault(); });
      if (a.getAttribute("data-auto-open") === "1") open();
    });

    // Scope tree: a checked resource implies its subtree, so its
    // descendants are shown ticked and locked; "all" locks the whole tree.
    var tree = document.querySelector(".js-scope-tree");
    var all = document.querySelector(".js-scope-all");
    function sync() {
      if (!tree) return;
      var allOn = all && all.checked;
      tree.querySelectorAll("li").forEach(function (li) {
        var box = li.querySelector(":scope > label > input");
        var implied = allOn;
        var p = li.parentElement && li.parentElement.closest("li");
        while (!implied && p) {
          var pb = p.querySelector(":scope > label > input");
          if (pb && pb.checked && !pb.disabled) implied = true;
          p = p.parentElement && p.parentElement.closest("li");
        }
        if (implied) {
          if (!box.disabled) box.setAttribute("data-was", box.checked ? "1" : "");
          box.checked = true;
          box.disabled = true;
        } else if (box.disabled) {
          box.disabled = false;
          box.checked = box.getAttribute("data-was") === "1";
        }
      });
    }
    if (tree) {
      tree.addEventListener("change", sync);
      if (all) all.addEventListener("change", sync);
      sync();
    }
  });
})();
