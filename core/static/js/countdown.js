// After 获取验证码: the button waits 60 s before it can ask again (no inline scripts: CSP).
// The server's answer (_sms_status.html) carries data-sms-sent="<seconds>" only when a code went
// out; the button that asked counts down on its label and is disabled until then.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (e) {
    var sent = e.detail.target && e.detail.target.querySelector("[data-sms-sent]");
    var button = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (!sent || !button || button.tagName !== "BUTTON" || button.hasAttribute("data-counting")) return;
    var left = parseInt(sent.getAttribute("data-sms-sent"), 10) || 60;
    var label = sent.getAttribute("data-countdown-label") || "{n}";
    var original = button.textContent;
    button.setAttribute("data-counting", "");
    button.disabled = true;
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        button.removeAttribute("data-counting");
        button.textContent = original;
        return;
      }
      button.textContent = label.replace("{n}", String(left));
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  });
})();
