// The web chat client: no build step. Text is always inserted with textContent, never as HTML.
(() => {
  "use strict";
  const strings = JSON.parse(document.getElementById("strings").textContent);
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const seen = new Set();
  const outbox = [];  // messages typed while disconnected: sent, with the same id, once connected
  let ws = null;
  let retry = 500;

  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

  // Links in the bot's own messages (the survey page) become anchors; everything else stays text. The user's
  // words are never linked, and only http(s) or same-site /survey/ addresses qualify.
  const LINK = /(https?:\/\/[^\s<>"]+|\/survey\/[A-Za-z0-9._-]+(?:\?[A-Za-z0-9=&]*)?)/g;
  function appendLinked(node, text, sender) {
    if (sender === "user") { node.textContent = text; return; }
    let last = 0;
    for (const match of text.matchAll(LINK)) {
      node.append(document.createTextNode(text.slice(last, match.index)));
      const a = document.createElement("a");
      a.href = match[0];
      a.textContent = match[0];
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      node.append(a);
      last = match.index + match[0].length;
    }
    node.append(document.createTextNode(text.slice(last)));
  }

  function render(m) {
    if (m.id !== undefined && seen.has(m.id)) return;
    if (m.id !== undefined) seen.add(m.id);
    const li = document.createElement("li");
    const sender = m.sender || "bot";
    li.className = "msg msg--" + sender;
    li.dataset.sender = sender;
    const who = document.createElement("span");
    who.className = "msg__who";
    who.textContent = sender === "user" ? strings.web_you : strings.web_bot;
    const body = document.createElement("span");
    body.className = "msg__text";
    appendLinked(body, m.text || "", sender);
    li.append(who, body);
    if (m.attachments && m.attachments.length) {
      // Links to files of this chat session only; the name is text, the URL is the server's own path.
      const files = document.createElement("ul");
      files.className = "msg__files";
      for (const f of m.attachments) {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = f.url;
        link.textContent = f.name;
        link.setAttribute("download", "");
        const size = document.createElement("span");
        size.className = "msg__size";
        size.textContent = " (" + f.size + ")";
        item.append(link, size);
        files.append(item);
      }
      li.append(files);
    }
    if (m.buttons && m.buttons.length) {
      const row = document.createElement("div");
      row.className = "msg__buttons";
      for (const b of m.buttons) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.label;
        btn.addEventListener("click", () => send(b.value));
        row.append(btn);
      }
      li.append(row);
    }
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  function showStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // The server's history is the truth: after a reconnect the list is rebuilt from it, plus what is
  // still waiting in the outbox, so nothing shows twice and nothing missed while offline is lost.
  async function loadHistory() {
    const res = await fetch("/chat/history", { credentials: "same-origin" });
    if (!res.ok) return;
    const data = await res.json();
    list.replaceChildren();
    seen.clear();
    data.messages.forEach(render);
    outbox.forEach((m) => render({ sender: "user", text: m.text }));
  }

  function flush() {
    while (ws && ws.readyState === WebSocket.OPEN && outbox.length) {
      ws.send(JSON.stringify(outbox.shift()));
    }
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    // The page's language choice goes with the socket, so the bot answers in it from the first message.
    const lang = new URLSearchParams(location.search).get("lang");
    ws = new WebSocket(proto + "//" + location.host + "/chat/ws" + (lang ? "?lang=" + encodeURIComponent(lang) : ""));
    ws.addEventListener("open", () => { retry = 500; showStatus(""); loadHistory().then(flush); });
    ws.addEventListener("message", (ev) => {
      const data = JSON.parse(ev.data);
      if (data.type === "message") render(data.message);
      else if (data.type === "error") showStatus(data.message);
    });
    ws.addEventListener("close", () => {
      showStatus(strings.web_reconnecting);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    });
  }

  function send(text) {
    if (!text.trim()) return;
    const id = newId();
    render({ sender: "user", text: text });
    outbox.push({ type: "message", id: id, text: text });
    if (!ws || ws.readyState !== WebSocket.OPEN) showStatus(strings.web_offline);
    flush();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  connect();
})();
