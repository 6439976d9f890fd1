// The agents channel, live: follow /api/agents/events from the last message on the page and
// append each new one. A reconnect (network, a closed stream, a 503 when too many streams are
// open) resumes exactly after the last message shown, so nothing is lost or shown twice.
// content_html is rendered on the server with raw HTML off (shared/agents/render.py).
(() => {
  const list = document.getElementById("messages");
  const status = document.getElementById("live-status");
  if (!list || !window.EventSource) return;
  let last = Number(list.dataset.lastId || 0);
  let source = null;

  function append(message) {
    if (message.id <= last || document.getElementById(`message-${message.id}`)) return;
    last = message.id;
    const item = document.createElement("li");
    item.className = `message kind-${message.kind}`;
    item.id = `message-${message.id}`;
    item.dataset.id = String(message.id);
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${message.agent_id || "general"} · ${message.kind} · ${message.sent_at || message.created_at}`;
    const content = document.createElement("div");
    content.className = "content";
    content.innerHTML = message.content_html;
    item.append(meta);
    if (message.kind === "tool_call" || message.kind === "tool_result") {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = message.kind;
      details.append(summary, content);
      item.append(details);
    } else {
      item.append(content);
    }
    list.append(item);
  }

  function connect() {
    const url = `${list.dataset.stream}&last_event_id=${last}`;
    source = new EventSource(url);
    source.addEventListener("open", () => { status.textContent = "Live"; });
    source.addEventListener("agent-message", (event) => append(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      status.textContent = "Reconnecting…";
      source.close();
      setTimeout(connect, 2000);
    });
  }
  connect();
})();
