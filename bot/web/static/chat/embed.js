/* Embed the web chat on another site:
 *   <script src="https://CHAT-HOST/chat/embed.js" defer></script>
 * A floating button opens /chat in an iframe (the page's origin must be listed in
 * BOT_CHAT_ORIGINS, which sets the chat page's frame-ancestors). Optional attributes on
 * the script tag: data-label (button text), data-position="left".
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || document.getElementById("hotline-chat-frame")) { return; }
  var base = new URL(script.src).origin;
  var label = script.getAttribute("data-label") || "線上客服";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  var button = document.createElement("button");
  button.type = "button";
  button.id = "hotline-chat-button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "hotline-chat-frame");
  button.style.cssText = "position:fixed;bottom:16px;" + side + ":16px;z-index:2147483000;min-height:48px;" +
    "padding:0 20px;border:0;border-radius:24px;background:#0b5cad;color:#fff;font:700 16px/1 sans-serif;" +
    "box-shadow:0 2px 8px rgba(0,0,0,.3);cursor:pointer;";

  var frame = document.createElement("iframe");
  frame.id = "hotline-chat-frame";
  frame.title = "中小企業馬上辦線上客服";
  frame.hidden = true;
  frame.style.cssText = "position:fixed;bottom:76px;" + side + ":16px;z-index:2147483000;" +
    "width:min(400px,calc(100vw - 32px));height:min(640px,calc(100vh - 96px));border:1px solid #c9d1da;" +
    "border-radius:12px;background:#fff;box-shadow:0 4px 16px rgba(0,0,0,.25);";

  function toggle(open) {
    if (open && !frame.src) { frame.src = base + "/chat?embed=1"; }
    frame.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) { frame.focus(); } else { button.focus(); }
  }

  button.addEventListener("click", function () { toggle(frame.hidden); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !frame.hidden) { toggle(false); }
  });
  // Escape inside the chat: the page asks its embedder to close it.
  window.addEventListener("message", function (event) {
    if (event.origin === base && event.data === "hotline-chat-close" && !frame.hidden) { toggle(false); }
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
