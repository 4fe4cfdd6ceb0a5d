// Small page behaviours without inline scripts (the Content-Security-Policy allows scripts from
// our own origin only): confirmation before a form is sent, and "select all" boxes.
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
  }, true);
  document.addEventListener("click", function (e) {
    var all = e.target.closest("[data-check-all]");
    if (all) {
      document.querySelectorAll('input[name="' + all.getAttribute("data-check-all") + '"]')
        .forEach(function (c) { c.checked = all.checked; });
    }
    var none = e.target.closest("[data-uncheck-all]");
    if (none) {
      document.querySelectorAll('input[name="' + none.getAttribute("data-uncheck-all") + '"]')
        .forEach(function (c) { c.checked = false; });
    }
  });
})();
