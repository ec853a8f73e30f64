// The live staff console: server-sent events from /console/live, then the parts that changed are fetched.
// No inline scripts (CSP); works without this file too (plain forms, reload to update).
(function () {
  "use strict";
  var body = document.body;
  var ticketId = body.dataset.ticket || "";
  var baseTitle = document.title;
  var statusBox = document.getElementById("live-status");
  var soundBox = document.getElementById("live-sound");
  var audio = null;
  var last = {};

  function say(text) { if (statusBox) { statusBox.textContent = text; } }

  // --- optional sound (Web Audio: a short tone, nothing downloaded) ------------------------
  if (soundBox) {
    soundBox.checked = window.localStorage.getItem("console-sound") === "on";
    soundBox.addEventListener("change", function () {
      window.localStorage.setItem("console-sound", soundBox.checked ? "on" : "off");
      if (soundBox.checked) { beep(); }
    });
  }
  function beep() {
    if (!soundBox || !soundBox.checked) { return; }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880; gain.gain.value = 0.1;
      tone.connect(gain); gain.connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.15);
    } catch (e) { /* no audio device: the title still shows the count */ }
  }

  function showCount(open, fresh) {
    var parts = [];
    if (open) { parts.push("(" + open + ")"); }
    if (fresh) { parts.push("●新訊息"); }
    document.title = (parts.length ? parts.join(" ") + " " : "") + baseTitle;
  }

  // --- queue page: swap the table in when a ticket changes ----------------------------------
  var queue = document.getElementById("queue");
  function refreshQueue() {
    if (!queue) { return; }
    fetch(queue.dataset.liveRows, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { queue.innerHTML = html; })
      .catch(function () { say("佇列更新失敗，稍後自動重試"); });
  }

  // --- ticket page: transcript, head, actions, log ----------------------------------------
  var transcript = document.getElementById("transcript");
  var unseen = false;
  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; }
  function toBottom(box) { box.scrollTop = box.scrollHeight; }
  if (transcript) { toBottom(transcript); }
  function showTicket(parts) {
    var stick = nearBottom(transcript);
    transcript.innerHTML = parts.transcript;
    if (stick) { toBottom(transcript); }
    document.getElementById("ticket-head").innerHTML = parts.head;
    document.getElementById("ticket-log").innerHTML = parts.log;
    if (parts.state !== body.dataset.state) {  // claimed or resolved elsewhere: new buttons
      body.dataset.state = parts.state;
      document.getElementById("ticket-actions").innerHTML = parts.actions;
      bindResolve();
      closeReply();
    }
  }
  // Resolved or withdrawn (by a colleague, or the caller) while the page is open: the draft stays, sending stops.
  function closeReply() {
    var closed = document.querySelector("#ticket-actions [data-closed]");
    var form = document.getElementById("reply");
    if (!closed || !form) { return; }
    Array.prototype.forEach.call(form.querySelectorAll("textarea, button"), function (el) { el.disabled = true; });
    form.querySelector(".reply-status").textContent = closed.textContent;
  }
  function refreshTicket() {
    if (!ticketId) { return; }
    fetch("/console/tickets/" + ticketId + "/live", { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(showTicket)
      .catch(function () { say("對話更新失敗，稍後自動重試"); });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { unseen = false; showCount(last.open, false); }
  });

  // --- the stream ---------------------------------------------------------------------------
  if (window.EventSource) {
    var source = new EventSource("/console/live" + (ticketId ? "?ticket=" + encodeURIComponent(ticketId) : ""));
    source.addEventListener("open", function () { say("即時更新中"); });
    source.addEventListener("error", function () { say("連線中斷，重新連線中…"); });
    // A ticket page's stream sends the changed parts itself (one trip to the bot's server, not two).
    source.addEventListener("ticket", function (event) { if (transcript) { showTicket(JSON.parse(event.data)); } });
    source.addEventListener("state", function (event) {
      var now = JSON.parse(event.data);
      var first = last.queue === undefined;
      if (!first && now.queue !== last.queue) { refreshQueue(); }
      if (!first && now.open > last.open) { beep(); }
      if (!first && ticketId && now.caller > last.caller) {
        beep();
        if (document.hidden) { unseen = true; }
      }
      last = now;
      showCount(now.open, unseen);
      say("即時更新中");
    });
  }

  // --- reply without leaving the page -----------------------------------------------------------
  var reply = document.getElementById("reply");
  if (reply) {
    var text = document.getElementById("reply-text");
    var note = reply.querySelector(".reply-status");
    reply.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!text.value.trim()) { note.textContent = "回覆內容不可空白。"; return; }
      var sending = reply.querySelector("button[type=submit]");
      sending.disabled = true;
      fetch(reply.action, { method: "POST", body: new FormData(reply), credentials: "same-origin",
                            headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (result) {
          if (result.ok) {
            text.value = "";
            note.textContent = result.data.message || "已送出回覆。";
            refreshTicket();
          } else {
            note.textContent = (result.data.error && result.data.error.message) || "送出失敗，請再試一次。";
          }
        })
        .catch(function () { note.textContent = "送出失敗（網路中斷），內容還在，請再試一次。"; })
        .then(function () { sending.disabled = false; text.focus(); });
    });
  }

  // --- canned replies go in at the cursor, the draft stays ---------------------------------
  document.addEventListener("click", function (event) {
    var chip = event.target.closest ? event.target.closest("button.chip[data-text]") : null;
    if (!chip) { return; }
    var box = document.getElementById(chip.dataset.target || "reply-text");
    if (!box) { return; }
    var start = box.selectionStart, end = box.selectionEnd;
    box.setRangeText(chip.dataset.text, start, end, "end");
    box.focus();
  });

  // --- resolve asks first ------------------------------------------------------------------------
  function bindResolve() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
      if (form.dataset.bound) { return; }
      form.dataset.bound = "1";
      form.addEventListener("submit", function (event) {
        var picked = form.querySelector("select[name=outcome]");
        var label = picked && picked.selectedIndex > 0 ? "（" + picked.options[picked.selectedIndex].text + "）" : "";
        if (!window.confirm(form.dataset.confirm + label)) { event.preventDefault(); }
      });
    });
  }
  bindResolve();

  // --- ops correction form: the value list shows only the chosen entity type's known values ------
  document.addEventListener("change", function (event) {
    var kind = event.target;
    if (!kind.matches || !kind.matches("select[name=new_entity]")) { return; }
    var values = kind.form && kind.form.querySelector("select[name=new_value]");
    if (!values) { return; }
    Array.prototype.forEach.call(values.querySelectorAll("optgroup"), function (group) {
      group.hidden = !!kind.value && group.label !== kind.value;
    });
    if (values.selectedOptions.length && values.selectedOptions[0].parentNode.hidden) { values.value = ""; }
  });
}());
