/* The lesson player: no seeking beyond the furthest point watched, rate fixed at 1, no skip
 * keys, resume where the server says, heartbeats every 15 s and on pause / end / hide / show, one
 * at a time and in order (each with its own sequence number); navigator.sendBeacon (CSRF token in
 * the body) only when the page goes away without having reported it. After the lesson's end the
 * session is over: the page sends nothing more.
 *
 * Hang-up study (挂机) earns nothing: when the page is hidden the video pauses and the beat says
 * so (visible=0); the server credits no time while the page is hidden nor for the span back to
 * the page, and the learner is told why.
 *
 * The server alone credits time; the page only reports. Beats not yet answered are kept in
 * localStorage and resent (in order, before a new session starts) after a reload or a dropped
 * network. Another tab or device of the same learner takes over: this page then pauses and says
 * so. State for people and tests: #player[data-state] = loading | ready | playing | paused |
 * taken-over | face-paused | error; window.xsPlayer exposes beat() and the current numbers.
 *
 * Proctoring: the camera is opened before the session starts (refused: the guide's words, no
 * study). When a beat's answer carries a capture ticket (the server's schedule), a burst of small
 * JPEGs of the camera (about a second) is uploaded with it (#player[data-snapshots] counts them). An answer with
 * face_paused stops the lesson and links to the face check. Each beat reports the seconds since
 * the learner last touched the page (idle evidence for the reviewer).
 */
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) return;
  var video = document.getElementById("lesson-video");
  var base = root.getAttribute("data-base");
  var lesson = root.getAttribute("data-lesson");
  var csrf = root.getAttribute("data-csrf");
  var allowSeek = root.getAttribute("data-allow-seek") === "1";
  var INTERVAL = 15000;
  var QUEUE = "xs-beats";
  var ACTIVE = "xs-active-session";
  var me = { token: "", seq: 0, furthest: 0, last: 0, stalled: false, stopped: false, timer: null,
             ended: false, hidden: false, hiding: false };
  var chain = Promise.resolve();
  var SEEK_REFUSED = "不能拖动到未学习的位置";
  var HIDDEN = "页面切换到后台，学习已暂停：后台时间不计学时";
  var BACK = "页面在后台的时间不计学时，请点击播放继续学习";
  var CAMERA_REFUSED = root.getAttribute("data-camera-refused"); // the tenant's words (proctoring/_camera_refused.html)
  var SNAP_SIDE = 640;
  var cam = document.getElementById("proctor-cam");
  var camStream = null, sentTickets = {}, snapshots = 0;
  var touchedAt = Date.now();
  ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "scroll"].forEach(function (name) {
    window.addEventListener(name, function () { touchedAt = Date.now(); }, { passive: true, capture: true });
  });
  var msgEl = document.getElementById("study-message");
  var refusedEl = document.getElementById("study-refused");
  var doneEl = document.getElementById("completion");
  var accruedEl = document.getElementById("accrued");
  var watchedEl = document.getElementById("watched");
  var clockEl = document.getElementById("clock");
  var toggle = document.getElementById("play-toggle");

  function setState(s) { root.setAttribute("data-state", s); }
  function say(el, text) { el.textContent = text || ""; el.hidden = !text; }
  function fmt(t) { t = Math.max(0, Math.floor(t || 0)); return Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0"); }

  function loadQueue() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function saveQueue(q) {
    try { localStorage.setItem(QUEUE, JSON.stringify(q.slice(-50))); } catch (e) { /* private mode */ }
  }
  function body(b) {
    var p = new URLSearchParams();
    Object.keys(b).forEach(function (k) { p.append(k, String(b[k])); });
    p.append("_csrf_token", csrf);
    return p;
  }
  async function send(b) {
    var r = await fetch(base + "/study/beat", {
      method: "POST", credentials: "same-origin", body: body(b), keepalive: true,
      headers: { "x-csrftoken": csrf, "Accept": "application/json" },
    });
    if (r.status >= 500 || r.status === 0) throw new Error("server " + r.status);
    return r.json().catch(function () { return {}; });
  }
  // Resend what never got an answer, oldest first; stop at the first network failure.
  async function flush() {
    var q = loadQueue();
    while (q.length) {
      var answer;
      try { answer = await send(q[0]); } catch (e) { return false; }
      q.shift();
      saveQueue(q);
    }
    return true;
  }

  function playing() {
    return !video.paused && !video.ended && !me.stalled && video.readyState >= 3;
  }
  function visible() { return document.visibilityState === "visible"; }
  function makeBeat(event) {
    me.seq += 1;
    return { token: me.token, seq: me.seq, lesson: lesson, position: video.currentTime.toFixed(3),
             playing: playing() && visible() ? "1" : "0", event: event || "beat", visible: visible() ? "1" : "0",
             idle: Math.max(0, Math.round((Date.now() - touchedAt) / 1000)) };
  }
  function beacon(event) {
    if (!me.token || me.stopped || me.ended) return;
    var b = makeBeat(event);
    var sent = navigator.sendBeacon && navigator.sendBeacon(base + "/study/beat", body(b));
    if (!sent) { var q = loadQueue(); q.push(b); saveQueue(q); }
  }

  async function openCamera() {
    if (!cam) return true;
    try {
      camStream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false });
    } catch (e) { return false; }
    cam.srcObject = camStream;
    await cam.play().catch(function () {});
    return true;
  }
  // A burst of small JPEGs of the camera (the answer says how many, taken over about a second) for
  // the server's capture ticket (never on the page's own schedule).
  var BURST_GAP_MS = 400;
  async function capture(ticket, frames) {
    if (!cam || !camStream || sentTickets[ticket]) return;
    sentTickets[ticket] = true;
    var w = cam.videoWidth, h = cam.videoHeight;
    for (var i = 0; i < 20 && (!w || !h); i++) {
      await new Promise(function (r) { setTimeout(r, 100); });
      w = cam.videoWidth; h = cam.videoHeight;
    }
    if (!w || !h) return;
    var s = Math.min(1, SNAP_SIDE / Math.max(w, h));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(w * s);
    canvas.height = Math.round(h * s);
    var form = new FormData();
    for (var n = 0; n < (frames || 3); n++) {
      if (n) await new Promise(function (r) { setTimeout(r, BURST_GAP_MS); });
      canvas.getContext("2d").drawImage(cam, 0, 0, canvas.width, canvas.height);
      form.append("frame", await new Promise(function (r) { canvas.toBlob(r, "image/jpeg", 0.8); }), "frame" + n + ".jpg");
    }
    var r = await fetch(base + "/study/snapshot?ticket=" + encodeURIComponent(ticket), {
      method: "POST", credentials: "same-origin", body: form,
      headers: { "x-csrftoken": csrf, "Accept": "application/json" },
    }).catch(function () { return null; });
    if (r && r.status === 202) { snapshots += 1; root.setAttribute("data-snapshots", String(snapshots)); }
  }
  function stopCamera() {
    if (camStream) { camStream.getTracks().forEach(function (t) { t.stop(); }); camStream = null; }
  }

  function handle(a) {
    if (!a) return;
    if (typeof a.total_hours === "number" && accruedEl) accruedEl.textContent = String(a.total_hours);
    if (a.capture && a.capture.ticket) capture(a.capture.ticket, a.capture.frames);
    if (a.face_paused) {
      me.stopped = true;
      video.pause();
      clearInterval(me.timer);
      stopCamera();
      setState("face-paused");
      say(msgEl, a.message);
      var link = document.getElementById("face-recheck");
      if (link && a.face_check) { link.href = base + a.face_check; link.hidden = false; }
      return;
    }
    if (a.paused) {
      me.stopped = true;
      video.pause();
      clearInterval(me.timer);
      setState("taken-over");
      say(msgEl, a.message || "您已在其他窗口或设备上继续学习，本页已暂停");
      return;
    }
    if (typeof a.furthest === "number") me.furthest = Math.max(me.furthest, a.furthest);
    if (typeof a.position === "number" && video.currentTime > a.position + 3 && !allowSeek) {
      video.currentTime = a.position; // the server did not accept the jump
    }
    if (a.message) say(refusedEl, a.message);
    else if (a.credited > 0) say(refusedEl, "");
    if (a.in_review) doneEl.hidden = false; // the page holds the tenant's text (study/_completion.html)
    if (watchedEl) watchedEl.value = me.furthest;
  }

  // One beat at a time: its sequence number is taken when it is its turn, so a pause and the
  // lesson's end (or a hide) never race or share one.
  function beatAndHandle(event) {
    var next = chain.then(function () { return sendBeat(event); });
    chain = next.catch(function () { return null; });
    return next;
  }
  async function sendBeat(event) {
    if (!me.token || me.stopped || me.ended) return null;
    if (event === "end") me.ended = true;
    var b = makeBeat(event);
    var q = loadQueue();
    q.push(b);
    saveQueue(q);
    // Send older queued beats first, then this one, handling this one's answer.
    while (q.length) {
      var item = q[0], answer;
      try { answer = await send(item); } catch (e) {
        say(msgEl, "网络异常，学习记录将在网络恢复后补传");
        return null;
      }
      q = loadQueue();
      if (q.length && q[0].token === item.token && q[0].seq === item.seq) q.shift();
      saveQueue(q);
      if (item.token === me.token) handle(answer);
      if (answer && answer.paused) return answer;
    }
    if (msgEl.textContent.indexOf("网络异常") === 0) say(msgEl, "");
    return b;
  }

  async function start() {
    setState("loading");
    await flush();  // beats of the previous page (same token) first: no credited second is lost
    if (!(await openCamera())) { setState("error"); say(refusedEl, CAMERA_REFUSED); return; }
    var r = await fetch(base + "/study/lessons/" + lesson + "/session", {
      method: "POST", credentials: "same-origin", headers: { "x-csrftoken": csrf, "Accept": "application/json" },
    }).catch(function () { return null; });
    var s = r ? await r.json().catch(function () { return {}; }) : {};
    if (r && r.status === 409 && s.face_check) { window.location.href = base + s.face_check; return; }
    if (!r || r.status !== 201) { setState("error"); say(refusedEl, s.error || "无法开始学习，请刷新页面重试"); return; }
    me.token = s.token;
    me.furthest = s.furthest || 0;
    try { localStorage.setItem(ACTIVE, me.token); } catch (e) { /* ignore */ }
    var resume = function () {
      if (s.position && s.position < (video.duration || 1e9) - 1) video.currentTime = s.position;
      me.last = video.currentTime;
      setState("ready");
      video.play().then(function () {}, function () { setState("paused"); say(msgEl, "请点击播放开始学习"); });
    };
    if (video.readyState >= 1) resume(); else video.addEventListener("loadedmetadata", resume, { once: true });
    me.timer = setInterval(function () { if (playing()) beatAndHandle("beat"); }, INTERVAL);
  }

  // No seeking beyond the furthest point watched; back is fine.
  video.addEventListener("timeupdate", function () {
    var t = video.currentTime;
    if (!video.seeking && t >= me.last && t - me.last < 1.5) me.furthest = Math.max(me.furthest, t);
    me.last = t;
    if (clockEl) clockEl.textContent = fmt(t) + " / " + fmt(video.duration);
    if (watchedEl) watchedEl.value = me.furthest;
  });
  video.addEventListener("seeking", function () {
    if (!allowSeek && video.currentTime > me.furthest + 1) {
      video.currentTime = me.furthest;  // the learner stays where the watched part ends
      say(msgEl, SEEK_REFUSED);
    }
    me.last = video.currentTime;
  });
  video.addEventListener("ratechange", function () {
    if (video.playbackRate !== 1) video.playbackRate = 1;
  });
  video.addEventListener("waiting", function () { me.stalled = true; });
  video.addEventListener("playing", function () {
    me.stalled = false; setState("playing");
    if (msgEl.textContent === "请点击播放开始学习" || msgEl.textContent === BACK) say(msgEl, "");
    if (toggle) toggle.textContent = "暂停";
  });
  video.addEventListener("pause", function () {
    if (!me.stopped) { setState("paused"); beatAndHandle(me.hiding ? "hide" : "pause"); }
    me.hiding = false;
    if (toggle) toggle.textContent = "播放";
  });
  video.addEventListener("ended", function () { beatAndHandle("end"); });
  // Hidden: pause and say so (the pause beat reports the hide); back: report it, stay paused.
  document.addEventListener("visibilitychange", function () {
    if (!me.token || me.stopped || me.ended) return;
    if (!visible()) {
      me.hidden = true;
      say(msgEl, HIDDEN);
      if (!video.paused) { me.hiding = true; video.pause(); } else beatAndHandle("hide");
    } else if (me.hidden) {
      me.hidden = false;
      say(msgEl, BACK);
      beatAndHandle("show");
    }
  });
  window.addEventListener("pagehide", function () { if (!me.hidden) beacon("hide"); });
  // Another tab of this browser started a session: ask the server now (it pauses this one).
  window.addEventListener("storage", function (e) {
    if (e.key === ACTIVE && e.newValue && e.newValue !== me.token && !me.stopped) beatAndHandle("beat");
  });
  // No skip keys: arrows, j/l, Home/End and digit jumps do nothing on this page.
  document.addEventListener("keydown", function (e) {
    var k = e.key;
    if (["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "End", "Home", "PageDown", "PageUp", "j", "l", "J", "L", ">", "<"]
        .indexOf(k) >= 0 || (/^[0-9]$/.test(k) && e.target === video)) {
      if (e.target && /^(INPUT|TEXTAREA)$/.test(e.target.tagName)) return;
      e.preventDefault();
      e.stopPropagation();
    }
  }, true);
  if (toggle) toggle.addEventListener("click", function () {
    if (me.stopped) return;
    if (video.paused) video.play(); else video.pause();
  });

  window.xsPlayer = {
    beat: function () { return beatAndHandle("beat"); },
    state: function () { return { token: me.token, seq: me.seq, furthest: me.furthest, position: video.currentTime,
                                  stopped: me.stopped, ended: me.ended, snapshots: snapshots, camera: !!camStream }; },
  };
  start();
})();
