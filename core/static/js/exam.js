// The attempt page (core/templates/exams/attempt.html): every click is autosaved by htmx (the
// question's own form, hx-trigger="change"); this script shows the answered count, counts down
// to the server's deadline and hands in at zero, reports a hidden tab (sendBeacon) and, when the
// server says the attempt is finished (time up or handed in elsewhere), opens the result.
// The server decides everything: a late or forged request is refused there.
(function () {
  "use strict";
  var exam = document.getElementById("exam");
  if (!exam) return;
  var left = parseInt(exam.getAttribute("data-left"), 10) || 0;
  var started = Date.now();
  var clock = document.getElementById("countdown");
  var form = document.getElementById("submit-form");
  var handedIn = false;

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function show(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    clock.textContent = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
    if (seconds <= 300) clock.classList.add("urgent");
  }
  function tick() {
    var now = Math.max(0, left - Math.floor((Date.now() - started) / 1000));
    show(now);
    if (now <= 0 && !handedIn) {
      handedIn = true;
      form.submit();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  tick();
  // Leaving the page (the hand-in's redirect) ends the countdown and the hidden-tab reports; a
  // click on 交卷 alone does not: the server may first ask to confirm unanswered questions.
  window.addEventListener("pagehide", function () { handedIn = true; });

  document.body.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status === 400 || status === 409 || status === 503) { e.detail.shouldSwap = true; e.detail.isError = false; }
    if (status === 503) {  // the server was busy: the choice was not saved, send it again
      var form = e.detail.elt;
      window.setTimeout(function () { htmx.trigger(form, "change"); }, 1500);
    }
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var ok = e.detail.target.querySelector("[data-answered]");
    if (ok) document.getElementById("answered").textContent = ok.getAttribute("data-answered");
    if (e.detail.target.querySelector("[data-finished]")) {
      window.setTimeout(function () { window.location.href = exam.getAttribute("data-result-url"); }, 1500);
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "hidden" || handedIn || !navigator.sendBeacon) return;
    var data = new FormData();
    data.append("_csrf_token", exam.getAttribute("data-csrf"));
    navigator.sendBeacon(exam.getAttribute("data-hidden-url"), data);
  });
})();
