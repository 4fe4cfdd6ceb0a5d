// Upload size limits shown at the field before anything is sent (no inline scripts: CSP).
// <input type="file" data-max-bytes="…" data-too-large="…">: a file over the limit gets the
// message under the field and the form is not sent; <form data-max-body="…"
// data-too-large-total="…">: the files together must fit the request body limit. The server
// answers a body over the limit with a Chinese page too (core.app), this only saves the wait.
(function () {
  "use strict";
  function show(input, text) {
    var field = input.closest(".field") || input.parentNode;
    var p = field.querySelector("p[data-upload-error]");
    input.setCustomValidity(text || "");
    if (!text) {
      if (p) p.remove();
      if (!field.querySelector("p.error")) field.classList.remove("has-error");
      return;
    }
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.setAttribute("data-upload-error", "");
      input.insertAdjacentElement("afterend", p);
    }
    p.textContent = text;
    field.classList.add("has-error");
  }
  function sizes(input) {
    return Array.prototype.map.call(input.files || [], function (f) { return f.size; });
  }
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var big = sizes(input).some(function (s) { return s > max; });
    show(input, big ? input.getAttribute("data-too-large") : "");
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var max = parseInt(form.getAttribute("data-max-body") || "0", 10);
    if (!max) return;
    var total = 0, last = null;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      var s = sizes(input);
      if (s.length) last = input;
      s.forEach(function (n) { total += n; });
    });
    if (total > max && last) {
      e.preventDefault();
      show(last, form.getAttribute("data-too-large-total"));
    }
  }, true);
})();
