/* Web chat page: talks to Rasa's socket.io channel (see bot/channels/socketio.py).
 *
 * - The session id (32 hex) lives in localStorage, so a reload continues the same
 *   conversation; its past messages come from /chat/history on the web app.
 * - Messages typed while the socket is down wait in `pending` and go out, in order,
 *   once the server has confirmed the session again (nothing dropped).
 * - After a reconnect the page re-reads the history, so replies sent while it was
 *   offline (a staff reply, say) still appear, each once.
 * - What the caller typed is also kept in this browser (localStorage, never sent
 *   anywhere): the server stores it masked (「[手機]」), so after a reload the page
 *   shows the caller's own words where the masked history matches them.
 * - Buttons of every message stay until the caller acts (sends or taps); focus then
 *   returns to the input. While a ticket waits for a person a banner says so and
 *   offers 「取消轉接」; no typing indicator then, nor while offline.
 * No innerHTML: every text is inserted as text; links are built as elements.
 */
(function () {
  "use strict";

  var root = document.getElementById("chat");
  var T = JSON.parse(document.getElementById("chat-text").textContent);
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var statusEl = document.getElementById("status");
  var typingEl = document.getElementById("typing");
  var waitingEl = document.getElementById("waiting");
  var KEY = "hotline-chat-session";
  var MINE_KEY = "hotline-chat-mine-";  // + session id: what this caller typed, as typed
  var MINE_LIMIT = 200;
  var PLACEHOLDER = /\[[^\[\]\s]{1,12}\]/g;
  var SESSION = /^[0-9a-f]{32}$/;

  var session = loadSession();
  var ready = false;          // the server confirmed our session on this connection
  var everReady = false;
  var pending = [];           // messages typed while not ready
  var fromServer = 0;         // rendered messages that the history also holds
  var typingTimer = null;
  var waiting = null;         // ticket number while a person is to take over
  var lastDay = null;         // the day of the last rendered message (date separators)

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function loadSession() {
    var store = storage(), id = null;
    try { id = store && store.getItem(KEY); } catch (e) { id = null; }
    if (!id || !SESSION.test(id)) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      saveSession(id);
    }
    return id;
  }

  function saveSession(id) {
    var store = storage();
    try { if (store) { store.setItem(KEY, id); } } catch (e) { /* private mode: this tab only */ }
  }

  // ---- the caller's own words, in this browser only ------------------------------------

  function loadMine() {
    var store = storage(), list = null;
    try { list = JSON.parse((store && store.getItem(MINE_KEY + session)) || "[]"); } catch (e) { list = []; }
    return Array.isArray(list) ? list : [];
  }

  function keepMine(text) {
    var store = storage();
    if (!store) { return; }
    var list = loadMine();
    list.push({ text: text, t: Date.now() });
    try { store.setItem(MINE_KEY + session, JSON.stringify(list.slice(-MINE_LIMIT))); } catch (e) { /* full: skip */ }
  }

  function escaped(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  // Does the stored (masked) text come from what the caller typed? 「[手機]」 stands for anything.
  function sameMasked(masked, typed) {
    masked = String(masked).trim(); typed = String(typed).trim();
    if (masked === typed) { return true; }
    PLACEHOLDER.lastIndex = 0;
    if (!PLACEHOLDER.test(masked)) { return false; }
    PLACEHOLDER.lastIndex = 0;
    var pattern = masked.split(PLACEHOLDER).map(escaped).join("[\\s\\S]+?");
    PLACEHOLDER.lastIndex = 0;
    return new RegExp("^" + pattern + "$").test(typed);
  }

  function restoreOwnWords(messages) {
    var mine = loadMine(), next = 0;
    messages.forEach(function (m) {
      if (m.who !== "user") { return; }
      for (var k = next; k < mine.length; k++) {
        if (sameMasked(m.text, mine[k].text)) { m.text = mine[k].text; next = k + 1; return; }
      }
    });
    return messages;
  }

  // ---- rendering -------------------------------------------------------------------------

  var LINKS = /(https?:\/\/[^\s<>「」『』（）()，。、；！？]+)|(0800[-‐－ ]?\d{3}[-‐－ ]?\d{3})/g;

  function linkified(text) {
    var frag = document.createDocumentFragment(), last = 0, match;
    LINKS.lastIndex = 0;
    while ((match = LINKS.exec(text)) !== null) {
      frag.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      a.textContent = match[0];
      if (match[1]) {
        a.href = match[1];
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      } else {
        a.href = "tel:" + match[0].replace(/[^0-9]/g, "");
        a.setAttribute("aria-label", T.call + " " + match[0]);
      }
      frag.appendChild(a);
      last = match.index + match[0].length;
    }
    frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  function timeOf(seconds) {
    var when = seconds ? new Date(seconds * 1000) : new Date();
    var el = document.createElement("time");
    el.dateTime = when.toISOString();
    el.textContent = when.toLocaleTimeString("zh-TW", { hour: "2-digit", minute: "2-digit", hour12: false });
    return el;
  }

  function card(custom) {
    var box = document.createElement("section");
    box.className = "scheme-card";
    box.setAttribute("aria-label", T.card + "：" + (custom.title || ""));
    var h = document.createElement("h2");
    h.textContent = custom.title || T.card;
    box.appendChild(h);
    if (custom.status) {
      var st = document.createElement("p");
      st.className = "scheme-status";
      st.textContent = custom.status;
      box.appendChild(st);
    }
    (custom.lines || []).forEach(function (line) {
      var p = document.createElement("p");
      p.appendChild(linkified(String(line)));
      box.appendChild(p);
    });
    if (custom.phone) {
      var call = document.createElement("a");
      call.className = "call";
      call.href = "tel:" + String(custom.phone).replace(/[^0-9#]/g, "");
      call.textContent = T.call + " " + custom.phone;
      box.appendChild(call);
    }
    return box;
  }

  function dayKey(when) { return when.getFullYear() + "-" + when.getMonth() + "-" + when.getDate(); }

  // A date line when the conversation moves to another day (and above old messages after a reload).
  function daySeparator(when) {
    var key = dayKey(when), first = lastDay === null;
    if (key === lastDay) { return; }
    lastDay = key;
    if (first && key === dayKey(new Date())) { return; }
    var li = document.createElement("li");
    li.className = "day";
    li.textContent = when.toLocaleDateString("zh-TW", { month: "long", day: "numeric", weekday: "short" });
    log.appendChild(li);
  }

  function setWaiting(handoff) {
    if (!handoff || typeof handoff !== "object") { return; }
    waiting = handoff.state === "waiting" ? (handoff.ticket || "") : null;
    waitingEl.hidden = waiting === null;
    if (waiting !== null) {
      document.getElementById("waiting-title").textContent = T.waiting + waiting;
      typing(false);
    }
  }

  function hideQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".quick"), function (q) { q.remove(); });
  }

  function quickReplies(replies) {
    var group = document.createElement("div");
    group.className = "quick";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", T.quick_replies);
    replies.forEach(function (r) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = r.title;
      b.addEventListener("click", function () { send(r.payload, r.title); input.focus(); });
      group.appendChild(b);
    });
    return group;
  }

  function render(message, options) {
    var who = message.who === "user" ? "user" : (message.staff ? "staff" : "bot");
    daySeparator(message.timestamp ? new Date(message.timestamp * 1000) : new Date());
    var li = document.createElement("li");
    li.className = "msg " + who;
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "user" ? T.you : (who === "staff" ? T.staff : T.bot);
    li.appendChild(label);
    var custom = message.custom || {};
    if (custom.type === "scheme_card") {
      li.appendChild(card(custom));
    } else if (message.text) {
      var bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.appendChild(linkified(message.text));
      li.appendChild(bubble);
    }
    li.appendChild(timeOf(message.timestamp));
    if (message.quick_replies && message.quick_replies.length && !(options && options.noReplies)) {
      li.appendChild(quickReplies(message.quick_replies));
    }
    log.appendChild(li);
    if (message.handoff) { setWaiting(message.handoff); }
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function welcome() {
    var li = render({ who: "bot", text: document.getElementById("welcome").content.textContent.trim() });
    li.classList.add("welcome");
    li.appendChild(quickReplies(T.starters.map(function (s) { return { title: s, payload: s }; })));
  }

  function renderHistory(messages) {
    log.textContent = "";
    fromServer = 0;
    lastDay = null;
    restoreOwnWords(messages);
    messages.forEach(function (m, i) {
      render(m, { noReplies: i !== messages.length - 1 });
      fromServer += 1;
    });
    if (!messages.length) { welcome(); }
  }

  // ---- status and typing ----------------------------------------------------------------

  function setStatus(state) {
    statusEl.dataset.state = state;
    statusEl.textContent = T[state];
  }

  // Only while the bot is working on an answer: not offline, not while a person is to reply.
  function typing(on) {
    on = on && ready && waiting === null;
    typingEl.hidden = !on;
    clearTimeout(typingTimer);
    if (on) { typingTimer = setTimeout(function () { typingEl.hidden = true; }, 10000); }
  }

  // ---- talking to the server ------------------------------------------------------------

  function history() {
    return fetch("/chat/history?session=" + session, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (body) { return body.messages || []; });
  }

  var socket = window.io(root.dataset.socketUrl, {
    autoConnect: false,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 8000,
    randomizationFactor: 0.5
  });

  function emit(text) {
    socket.emit("user_uttered", { message: text, session_id: session });
  }

  function send(text, shown) {
    text = String(text || "");
    if (!text.trim()) { input.focus(); return; }
    hideQuickReplies();
    var message = { who: "user", text: shown || text, payload: text, timestamp: Date.now() / 1000 };
    if (!shown) { keepMine(text); }
    render(message);
    typing(true);
    if (ready) { emit(message.payload); fromServer += 1; } else { pending.push(message); }
  }

  function flush() {
    pending.splice(0).forEach(function (message) { emit(message.payload); fromServer += 1; });
  }

  socket.on("connect", function () {
    socket.emit("session_request", { session_id: session });
  });

  socket.on("session_confirm", function (id) {
    var wasReady = everReady;
    if (typeof id === "string" && SESSION.test(id) && id !== session) { session = id; saveSession(id); }
    ready = everReady = true;
    setStatus("online");
    if (!wasReady) { flush(); return; }
    // Replies sent while we were away went to an empty room: take them from the history
    // first, then send what was typed offline (so the history cannot hold it yet).
    var seen = fromServer;  // if anything arrives meanwhile, the live stream is complete again
    history().then(function (messages) {
      if (fromServer === seen && messages.length > fromServer) {
        var waiting = pending.slice();
        renderHistory(messages);
        waiting.forEach(function (message) { render(message); });
        if (!waiting.length && messages[messages.length - 1].who === "bot") { typing(false); }
      }
    }).catch(function () { /* the live messages still come */ }).then(flush);
  });

  socket.on("bot_uttered", function (message) {
    if (!message || typeof message !== "object") { return; }
    typing(false);
    render({ who: "bot", text: message.text, quick_replies: message.quick_replies, custom: message.custom,
             staff: message.staff, handoff: message.handoff, timestamp: message.timestamp });
    fromServer += 1;
  });

  socket.on("session_invalid", function () { socket.emit("session_request", { session_id: session }); });
  function offline() { ready = false; setStatus("offline"); typing(false); }
  socket.on("disconnect", offline);
  socket.on("connect_error", offline);
  window.addEventListener("offline", offline);

  document.getElementById("withdraw").addEventListener("click", function () {
    send(T.withdraw_payload, T.withdraw);
    input.focus();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = "";
    send(text);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  if (document.body.classList.contains("embedded") && window.parent !== window) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { window.parent.postMessage("hotline-chat-close", "*"); }
    });
  }

  history()
    .then(renderHistory)
    .catch(function () {
      renderHistory([]);
      var note = document.createElement("li");
      note.className = "note";
      note.textContent = T.history_failed;
      log.insertBefore(note, log.firstChild);
    })
    .then(function () { socket.connect(); });
})();
