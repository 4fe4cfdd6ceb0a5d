/* Webcam face verification page (core/templates/proctoring/check.html). Plain JS, no build step.
 *
 * Flow: camera (getUserMedia) → POST /face/challenge → frames (JPEG ≤ 640 px) to POST /face/frame
 * with the page's own timestamps, one request in flight: one frame a request, ≤ 10 a second while
 * waiting for a prompt and ≤ 20 between actions; while an action is asked, the camera is captured
 * at its own rate (≤ 30 a second: a quick blink closes the eyes for one camera frame) and each
 * request carries the frames captured since the previous one (≤ MAX_BURST, the latest ones: the
 * server's rules are in core/faces/bursts.py), so a slow round trip does not drop them;
 * each prompt is shown large and spoken (zh-CN)
 * when the server's answer to a frame carries it (next_prompt: the server chooses the order and
 * the moment) → POST /face/finish. The server decides; the page only shows its guidance. Progress is exposed as data-state on #face-check
 * (idle | camera | running | finishing | passed | failed | error) for people and tests alike.
 */
(function () {
  "use strict";
  var FRAME_GAP_MS = 100;       // ≤ 10 frames per second while waiting for a prompt
  var ACTION_FRAME_GAP_MS = 50; // ≤ 20 between actions (one request in flight either way)
  var CAMERA_GAP_MS = 33;       // while an action is asked: captures at camera rate (≤ 30 a second)
  var MAX_BURST = 30;           // frames a request at most (core/faces/bursts.py MAX_BURST)
  var MIN_GAP_MS = 25;          // between two frames' times at least (core/faces/bursts.py MIN_GAP_MS)
  var MAX_SIDE = 640;
  var QUALITY = 0.8;
  var GIVE_UP_MS = 30000;

  var root, video, promptEl, guidanceEl, countdownEl, outcomeEl, startBtn, attemptsEl;
  var stream = null, canvas = document.createElement("canvas");
  var run = null; // state of the current attempt

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch (e) { return ""; }
  }

  function setState(state) { root.setAttribute("data-state", state); }

  function say(text) {
    try {
      if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) return;
      window.speechSynthesis.cancel();
      var u = new SpeechSynthesisUtterance(text);
      u.lang = "zh-CN";
      u.rate = 1.0;
      window.speechSynthesis.speak(u);
    } catch (e) { /* speech is a help, never required */ }
  }

  function post(path, body, contentType) {
    var headers = { "x-csrftoken": csrfToken() };
    if (contentType) headers["content-type"] = contentType;
    return fetch(root.getAttribute("data-base") + path, {
      method: "POST", body: body, headers: headers, credentials: "same-origin"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        data._status = r.status;
        return data;
      });
    });
  }

  function grab() {
    var w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    var s = Math.min(1, MAX_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * s);
    canvas.height = Math.round(h * s);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", QUALITY); });
  }

  function showPrompt(i, text) {
    promptEl.textContent = text;
    root.setAttribute("data-step", String(i));
    say(text);
    run.shownIndex = i;
    run.shownAt = Math.round(performance.now() - run.t0);
    if (!run.asking) { run.asking = true; captureLoop(run); }
  }

  // While the shown prompt's action is asked: a frame every CAMERA_GAP_MS into a queue of at
  // most MAX_BURST (the oldest is dropped), which the next request takes.
  async function captureLoop(me) {
    var last = me.lastT;
    while (run === me && !me.finished && me.asking) {
      var t = Math.round(performance.now() - me.t0);
      if (t >= last + MIN_GAP_MS) {
        var blob = await grab();
        if (blob && me.asking) {
          me.captured.push({ t: t, blob: blob });
          if (me.captured.length > MAX_BURST) me.captured.shift();
          last = t;
        }
      }
      await sleep(t + CAMERA_GAP_MS - (performance.now() - me.t0));
    }
  }

  // The frames of the next request: those captured since the previous one while an action is
  // asked (waiting for the first), else one grabbed now, at most 10 (20 between actions) a second.
  async function nextFrames(me) {
    if (me.asking) {
      while (run === me && me.asking && !me.captured.length && performance.now() - me.t0 <= GIVE_UP_MS) await sleep(10);
      if (me.captured.length) return me.captured.splice(0, me.captured.length);
    }
    var now = performance.now() - me.t0;
    await sleep(me.lastT + (me.shownIndex >= 0 ? ACTION_FRAME_GAP_MS : FRAME_GAP_MS) - now);
    var t = Math.round(performance.now() - me.t0);
    if (t < me.lastT + MIN_GAP_MS) t = me.lastT + MIN_GAP_MS;
    var blob = await grab();
    return blob ? [{ t: t, blob: blob }] : [];
  }

  function postFrames(me, frames) {
    var q = "?nonce=" + encodeURIComponent(me.nonce) + "&t=" + frames.map(function (f) { return f.t; }).join(",");
    if (frames.length === 1) return post("/face/frame" + q, frames[0].blob, "image/jpeg");
    q += "&sizes=" + frames.map(function (f) { return f.blob.size; }).join(",");
    return post("/face/frame" + q, new Blob(frames.map(function (f) { return f.blob; })), "application/octet-stream");
  }

  function tickCountdown() {
    if (!run || run.shownIndex < 0 || run.finished) { countdownEl.textContent = ""; return; }
    var left = run.timeout - (performance.now() - run.t0 - run.shownAt);
    countdownEl.textContent = left > 0 ? String(Math.ceil(left / 1000)) : "";
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, Math.max(0, ms)); }); }

  async function frameLoop() {
    var me = run;
    while (run === me && !me.finished) {
      if (performance.now() - me.t0 > GIVE_UP_MS) break;
      var frames = await nextFrames(me);
      if (run !== me) return;
      if (!frames.length) { await sleep(50); continue; }
      me.lastT = frames[frames.length - 1].t;
      var g = await postFrames(me, frames).catch(function () { return { _status: 0 }; });
      if (run !== me) return;
      if (g._status !== 200) {
        if (g._status === 404) return fail("核验已超时，请重新开始核验");
        return fail(g.error || "网络异常，请检查网络后重试");
      }
      me.frames += frames.length;
      guidanceEl.textContent = g.message || "";
      root.setAttribute("data-code", g.code || "");
      if (g.done) break;
      if (g.next_prompt && g.step > me.shownIndex) showPrompt(g.step, g.next_prompt);
      else if (g.step > me.shownIndex) { me.asking = false; me.captured = []; } // done: wait for the next prompt
    }
    if (run === me && !me.finished) await finish();
  }

  async function finish() {
    var me = run;
    me.finished = true;
    setState("finishing");
    promptEl.textContent = "";
    countdownEl.textContent = "";
    guidanceEl.textContent = "正在核验，请稍候…";
    var r = await post("/face/finish?nonce=" + encodeURIComponent(me.nonce), "", "text/plain")
      .catch(function () { return { _status: 0 }; });
    stopCamera();
    if (r._status !== 200) return fail(r._status === 404 ? "核验已超时，请重新开始核验" : "网络异常，请检查网络后重试");
    showOutcome(r.passed ? "passed" : "failed", r.message, r.attempts_left, r.can_retry, r.limit_message);
  }

  function showOutcome(state, message, attemptsLeft, canRetry, limitMessage) {
    outcomeEl.hidden = false;
    outcomeEl.textContent = message + (limitMessage ? "。" + limitMessage : "");
    guidanceEl.textContent = "";
    if (typeof attemptsLeft === "number") attemptsEl.querySelector("b").textContent = String(attemptsLeft);
    startBtn.textContent = "重新核验";
    startBtn.hidden = !canRetry;
    startBtn.disabled = false;
    say(state === "passed" ? "核验通过" : "核验未通过");
    setState(state);
    // Reached from 开始学习: a passed check continues to the lesson (the server still decides).
    var next = root.getAttribute("data-next");
    if (state === "passed" && next) {
      setTimeout(function () { window.location.href = root.getAttribute("data-base") + next; }, 1200);
    }
  }

  function fail(message) {
    if (run) run.finished = true;
    stopCamera();
    promptEl.textContent = "";
    showOutcome("failed", message, undefined, true, "");
  }

  function stopCamera() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.srcObject = null;
  }

  async function start() {
    if (run && !run.finished) return; // one check at a time: a second start would abandon this one
    startBtn.disabled = true;
    startBtn.hidden = true;
    outcomeEl.hidden = true;
    promptEl.textContent = "";
    setState("camera");
    guidanceEl.textContent = "正在打开摄像头…";
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false
      });
    } catch (e) {
      startBtn.disabled = false;
      startBtn.hidden = false;
      setState("error");
      guidanceEl.textContent = root.getAttribute("data-camera-refused"); // the tenant's words (proctoring/_camera_refused.html)
      return;
    }
    video.srcObject = stream;
    await video.play().catch(function () {});
    var c = await post("/face/challenge", "", "text/plain").catch(function () { return { _status: 0 }; });
    if (c._status !== 201) {
      stopCamera();
      setState(c._status === 429 ? "blocked" : "error");
      guidanceEl.textContent = c.error || "网络异常，请检查网络后重试";
      startBtn.disabled = c._status === 429;
      startBtn.hidden = c._status === 429;
      if (c.consent) window.location.href = root.getAttribute("data-base") + "/face/consent";
      return;
    }
    run = {
      nonce: c.nonce, timeout: c.timeout_ms, t0: performance.now(),
      shownIndex: -1, shownAt: 0, frames: 0, finished: false,
      lastT: -FRAME_GAP_MS, asking: false, captured: []
    };
    attemptsEl.querySelector("b").textContent = String(c.attempts_left);
    root.setAttribute("data-actions", c.actions.join(","));
    setState("running");
    guidanceEl.textContent = "请正对镜头，保持不动";
    frameLoop();
  }

  function init() {
    root = document.getElementById("face-check");
    if (!root || !document.getElementById("face-start")) return;
    video = document.getElementById("face-video");
    promptEl = document.getElementById("face-prompt");
    guidanceEl = document.getElementById("face-guidance");
    countdownEl = document.getElementById("face-countdown");
    outcomeEl = document.getElementById("face-outcome");
    startBtn = document.getElementById("face-start");
    attemptsEl = document.getElementById("face-attempts");
    startBtn.addEventListener("click", start);
    setInterval(tickCountdown, 200);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
