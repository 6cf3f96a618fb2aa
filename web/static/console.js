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

    // Selectors in the top bar submit on change.
    document.querySelectorAll("form.js-autosubmit select").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
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
