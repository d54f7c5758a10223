// The console's only script: live updates, presence and small conveniences. No build step.
// Everything it shows that came from data is written with textContent; fragments it swaps in come
// from the server's own autoescaped pages, parsed inertly by DOMParser (which runs no scripts).
(() => {
  "use strict";
  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf"]')?.content || "";
  const page = body.dataset.page || "";
  const ticketId = Number(body.dataset.ticket || 0);
  const me = Number(body.dataset.me || 0);
  if (!me) return; // the sign-in page has nothing live

  let ws = null;
  let retry = 1000;
  const status = document.getElementById("live-status");

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...message, csrf }));
  }

  // Re-read this same page and swap the named parts: one rendering path, on the server.
  let pending = null;
  function refresh(ids) {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected && response.url.includes("/console/login")) { location.reload(); return; }
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ids) {
        const fresh = doc.getElementById(id);
        const current = document.getElementById(id);
        if (fresh && current) current.replaceWith(document.importNode(fresh, true));
      }
      tick();
      toLatest();
      body.dataset.refreshed = String(Date.now());
    }, 150);
  }

  const others = new Map(); // user id -> {name, state, at}
  function renderPresence() {
    const line = document.getElementById("presence");
    if (!line) return;
    const now = Date.now();
    const parts = [];
    for (const [, p] of others) {
      const typing = p.state === "typing" && now - p.at < 5000;
      parts.push(`${p.name} ${typing ? body.dataset.typing : body.dataset.viewing}`);
    }
    line.textContent = parts.join(" · ");
    line.classList.toggle("collision", parts.length > 0);
  }

  function onEvent(event) {
    if (event.type !== "event") return;
    const { name, data } = event;
    if (name === "presence") {
      if (data.ticket_id !== ticketId || data.user_id === me) return;
      if (data.state === "leave") others.delete(data.user_id);
      else others.set(data.user_id, { name: String(data.name), state: data.state, at: Date.now() });
      renderPresence();
      return;
    }
    // A closing WhatsApp window is the assigned agent's to act on; unassigned, anyone's.
    if (name === "ticket.window_closing" && (data.assignee_id === null || data.assignee_id === me)) {
      alertTicket(data.ticket_id, body.dataset.windowClosing);
    }
    // SLA notices name their recipients (handoff.sla.recipients): the assigned agent, the team or everyone
    // for a warning, the supervisors for a breach.
    if ((name === "sla.warning" || name === "sla.breach") && Array.isArray(data.recipients) && data.recipients.includes(me)) {
      alertTicket(data.ticket_id, name === "sla.breach" ? body.dataset.slaBreach : body.dataset.slaWarning);
      return;
    }
    if (name === "classifier.progress") { if (page === "classifier") refresh(["retrain"]); return; }
    if (name === "settings.updated" || name === "teams.updated") { if (page === "queue") location.reload(); return; }
    if (!name.startsWith("ticket.") && !name.startsWith("conversation.")) return;
    if (page === "queue") refresh(["queue-rows"]);
    else if (page === "dashboard") refresh(["dashboard"]);
    else if (page === "ticket" && data.ticket_id === ticketId) refresh(["timeline", "ticket-meta"]);
  }

  function alertTicket(id, message) {
    const box = document.getElementById("live-alert");
    if (!box) return;
    const link = document.createElement("a");
    link.href = `/console/t/${Number(id)}`;
    link.textContent = body.dataset.openTicket || "";
    box.replaceChildren(document.createTextNode(`${message || ""} `), link);
    box.dataset.ticket = String(Number(id));
    box.hidden = false;
  }

  // A retrain that ends before this page's WebSocket is open sends no more events: poll while it runs.
  if (page === "classifier") {
    setInterval(() => {
      if (document.getElementById("retrain")?.dataset.status === "running") refresh(["retrain"]);
    }, 2000);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/console/ws`);
    ws.onopen = () => {
      retry = 1000;
      status?.classList.add("on");
      body.dataset.live = "1";
      if (ticketId) send({ action: "view", ticket_id: ticketId });
    };
    ws.onmessage = (frame) => {
      try { onEvent(JSON.parse(frame.data)); } catch (_) { /* a bad frame is ignored */ }
    };
    ws.onclose = () => {
      status?.classList.remove("on");
      body.dataset.live = "0";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }
  // The newest message is what an agent reads first.
  function toLatest() {
    const timeline = document.getElementById("timeline");
    if (timeline) timeline.scrollTop = timeline.scrollHeight;
  }
  toLatest();
  connect();
  setInterval(renderPresence, 2000);

  // Typing: at most one notice every 2 s, so a fast typist does not flood the others.
  let lastTyping = 0;
  document.addEventListener("input", (e) => {
    if (!ticketId || !(e.target instanceof HTMLTextAreaElement)) return;
    const now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; send({ action: "typing", ticket_id: ticketId }); }
  });

  // Canned answers: the server already filled the variables; the value is set as text, never HTML.
  document.getElementById("canned")?.addEventListener("change", (e) => {
    const option = e.target.selectedOptions[0];
    const box = document.getElementById("reply-text");
    if (option && option.dataset.body && box) { box.value = option.dataset.body; box.focus(); }
  });

  // Files over the limit are named before the upload starts; the server checks again either way.
  document.getElementById("reply-files")?.addEventListener("change", (e) => {
    const input = e.target;
    const max = Number(input.dataset.maxBytes || 0);
    const tooBig = max > 0 && Array.from(input.files || []).some((f) => f.size > max);
    input.setCustomValidity(tooBig ? input.dataset.tooBig || "" : "");
    if (tooBig) input.reportValidity();
  });

  // Time left, counted down between refreshes and recoloured at the moments the page gives (the server's
  // handoff.sla decides them from each ticket's own target; this script knows no rule).
  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-due]")) {
      const due = Date.parse(el.dataset.due);
      const left = Math.floor((due - now) / 60000);
      const abs = Math.abs(left);
      el.textContent = `${left < 0 ? "-" : ""}${Math.floor(abs / 60)}h ${String(abs % 60).padStart(2, "0")}m`;
      el.classList.remove("sla-ok", "sla-warn", "sla-risk", "sla-breached");
      const reached = (moment) => moment !== undefined && now >= Date.parse(moment);
      el.classList.add(now >= due ? "sla-breached" : reached(el.dataset.atRisk) ? "sla-risk"
        : reached(el.dataset.warning) ? "sla-warn" : "sla-ok");
    }
  }
  setInterval(tick, 30000);
})();
