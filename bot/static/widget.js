// The web chat for another site's pages (the LMS): a launcher button that opens /chat in a frame.
//   <script src="https://care.example/chat/widget.js" data-lang="id" data-identifier="…" data-expires="…"
//           data-signature="…" defer></script>
// The chat's own site decides which sites may frame it (WEBCHAT_ALLOWED_ORIGINS); this script only builds
// the frame. The signed identity (bot.lms) passes through to /chat as its query, unchanged. No build step;
// nothing here reads or writes the host page beyond the two elements it adds.
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.src) return;
  const base = new URL(script.src);
  const data = script.dataset;
  const query = new URLSearchParams();
  for (const name of ["lang", "identifier", "expires", "signature"]) {
    if (data[name]) query.set(name, data[name]);
  }
  const src = base.origin + "/chat" + (query.toString() ? "?" + query.toString() : "");
  const label = data.label || "Care Center";

  const frame = document.createElement("iframe");
  frame.title = label;
  frame.dataset.careCenter = "frame";
  frame.referrerPolicy = "no-referrer";  // the signed query must not travel further
  Object.assign(frame.style, {
    position: "fixed", right: "16px", bottom: "84px", width: "min(380px, calc(100vw - 32px))",
    height: "min(600px, calc(100vh - 110px))", border: "0", borderRadius: "12px",
    boxShadow: "0 8px 28px rgba(0,0,0,.25)", zIndex: "2147483646", background: "#fff", display: "none",
  });

  const button = document.createElement("button");
  button.type = "button";
  // An icon drawn here, not an emoji: a host page's visitors may have no emoji font.
  const NS = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(NS, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  const bubble = document.createElementNS(NS, "path");
  bubble.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  bubble.setAttribute("fill", "currentColor");
  icon.append(bubble);
  button.append(icon);
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-expanded", "false");
  button.dataset.careCenter = "launcher";
  Object.assign(button.style, {
    position: "fixed", right: "16px", bottom: "16px", width: "56px", height: "56px", borderRadius: "50%",
    border: "0", background: "#0b4f8a", color: "#fff", fontSize: "26px", cursor: "pointer",
    boxShadow: "0 4px 14px rgba(0,0,0,.3)", zIndex: "2147483647",
  });

  function toggle(open) {
    // The frame loads on first open only: a page view that never opens the chat starts no session.
    if (open && !frame.src) frame.src = src;
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", String(open));
  }
  button.addEventListener("click", () => toggle(frame.style.display === "none"));

  const mount = () => {
    document.body.append(frame, button);
    if (data.open === "true") toggle(true);
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
