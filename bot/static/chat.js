// The web chat client: no build step. Text is always inserted with textContent, never as HTML.
(() => {
  "use strict";
  const strings = JSON.parse(document.getElementById("strings").textContent);
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const welcome = document.getElementById("welcome");
  const picker = document.getElementById("files");  // absent when the server keeps no files
  const chosenList = document.getElementById("chosen");
  const maxBytes = Number(form.dataset.maxBytes || 0);
  const maxFiles = Number(form.dataset.maxFiles || 0);
  const accepted = (form.dataset.accept || "").split(",").filter(Boolean);
  let chosen = [];  // files picked or dropped, waiting for the next send
  const seen = new Set();
  const outbox = [];  // messages typed while disconnected: sent, with the same id, once connected
  let ws = null;
  let retry = 500;

  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

  // Links in the bot's own messages (the survey page) become anchors; everything else stays text. The user's
  // words are never linked, and only http(s) or same-site /survey/ addresses qualify.
  const LINK = /(https?:\/\/[^\s<>"]+|\/survey\/[A-Za-z0-9._-]+(?:\?[A-Za-z0-9=&]*)?)/g;
  // The catalogue is written for chat apps, where *word* is bold (WhatsApp, Telegram): the web chat shows it
  // the same way instead of printing the asterisks. As on WhatsApp, only a *phrase* set off by spaces or
  // punctuation counts, so code-like text (a*b*c, /* ... */) stays as written. Built from text nodes, so
  // nothing becomes HTML.
  const BOLD = /(^|[\s(])\*([^\s*](?:[^*\n]*[^\s*])?)\*(?=$|[\s.,!?:;)])/g;
  function appendFormatted(node, text) {
    let last = 0;
    for (const match of text.matchAll(BOLD)) {
      node.append(document.createTextNode(text.slice(last, match.index) + match[1]));
      const strong = document.createElement("strong");
      strong.textContent = match[2];
      node.append(strong);
      last = match.index + match[0].length;
    }
    node.append(document.createTextNode(text.slice(last)));
  }
  function appendLinked(node, text, sender) {
    if (sender === "user") { node.textContent = text; return; }
    let last = 0;
    for (const match of text.matchAll(LINK)) {
      appendFormatted(node, text.slice(last, match.index));
      const a = document.createElement("a");
      a.href = match[0];
      a.textContent = match[0];
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      node.append(a);
      last = match.index + match[0].length;
    }
    appendFormatted(node, text.slice(last));
  }

  // A button answers the message it came with only: once one is pressed, or once any later message came,
  // the row is disabled, and the one chosen (pressed, or the user's next message naming it) stays marked.
  function closeButtons(answer) {
    for (const row of list.querySelectorAll(".msg__buttons:not(.is-closed)")) {
      row.classList.add("is-closed");
      for (const btn of row.querySelectorAll("button")) {
        btn.disabled = true;
        if (answer !== undefined && btn.dataset.value === answer) {
          btn.classList.add("is-chosen");
          btn.setAttribute("aria-pressed", "true");
        }
      }
    }
  }

  function render(m) {
    if (m.id !== undefined && seen.has(m.id)) return;
    if (m.id !== undefined) seen.add(m.id);
    closeButtons((m.sender || "bot") === "user" ? m.text : undefined);
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
        // A file just sent has no address yet: its name only, until the history brings the link.
        const link = document.createElement(f.url ? "a" : "span");
        if (f.url) { link.href = f.url; link.setAttribute("download", ""); }
        link.textContent = f.name;
        const size = document.createElement("span");
        size.className = "msg__size";
        size.textContent = f.size ? " (" + f.size + ")" : "";
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
        btn.dataset.value = b.value;
        btn.addEventListener("click", () => { if (!btn.disabled) send(b.value); });
        row.append(btn);
      }
      li.append(row);
    }
    list.append(li);
    list.scrollTop = list.scrollHeight;
    welcome.hidden = true;
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
    welcome.hidden = list.children.length > 0;  // an empty chat opens with the welcome prompt
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

  // Files: checked here against the server's own limits before any upload (the server checks again, by
  // their bytes); a refused file is named in the status line and dropped, the text stays in the box.
  const fill = (key, name) => strings[key].replace("{name}", name);
  function choose(files) {
    const problems = [];
    for (const f of files) {
      if (chosen.length >= maxFiles) problems.push(fill("web_file_too_many", f.name));
      else if (f.size > maxBytes) problems.push(fill("web_file_too_big", f.name));
      else if (accepted.length && !accepted.includes(f.type)) problems.push(fill("web_file_type_not_allowed", f.name));
      else chosen.push(f);
    }
    showChosen();
    showStatus(problems.join("\n"));
  }
  function showChosen() {
    chosenList.replaceChildren(...chosen.map((f) => {
      const item = document.createElement("li");
      item.textContent = f.name;
      return item;
    }));
    chosenList.hidden = chosen.length === 0;
  }

  async function sendFiles(text) {
    const files = chosen;
    const body = new FormData();
    body.append("id", newId());
    body.append("text", text);
    for (const f of files) body.append("file", f, f.name);
    let res;
    try {
      const lang = new URLSearchParams(location.search).get("lang");
      res = await fetch("/chat/files" + (lang ? "?lang=" + encodeURIComponent(lang) : ""),
                        { method: "POST", body: body, credentials: "same-origin" });
    } catch (_) {
      showStatus(strings.web_offline);
      return false;
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {  // nothing was sent: the text and the files stay for another try
      showStatus(data.message || strings.web_error_files_too_big);
      return false;
    }
    chosen = [];
    showChosen();
    render({ sender: "user", text: text, attachments: files.map((f) => ({ name: f.name, size: "" })) });
    showStatus((data.refused || []).map((r) => r.message).join("\n"));
    await loadHistory();  // the files' links and the bot's answer, from the server's record
    return true;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (chosen.length) {
      if (await sendFiles(text)) input.value = "";
      return;
    }
    input.value = "";
    send(text);
  });
  if (picker) {
    picker.addEventListener("change", () => { choose(Array.from(picker.files)); picker.value = ""; });
    const area = document.querySelector(".chat");
    area.addEventListener("dragover", (ev) => { ev.preventDefault(); area.classList.add("chat--dragging"); });
    area.addEventListener("dragleave", () => area.classList.remove("chat--dragging"));
    area.addEventListener("drop", (ev) => {
      ev.preventDefault();
      area.classList.remove("chat--dragging");
      if (ev.dataTransfer && ev.dataTransfer.files.length) choose(Array.from(ev.dataTransfer.files));
    });
  }
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  connect();
})();
