// ChatSphere's embeddable chat bubble. A page adds
//   <script src="https://<chatsphere>/static/chatsphere/widget.js" data-bot-key="pk_..." async></script>
// and gets a bubble that talks to that one bot. Everything lives in a shadow root, so the page's styles
// and the widget's never mix. The visitor's token (their own conversation) stays in this site's storage.
(() => {
  const script = document.currentScript;
  const key = script && script.dataset.botKey;
  if (!key) return;
  const base = `${new URL(script.src).origin}/api/widget/${encodeURIComponent(key)}`;
  const storageKey = `chatsphere-widget:${key}`;

  const host = document.createElement("div");
  host.id = "chatsphere-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; font-family: system-ui, sans-serif; }
      .bubble { position: fixed; right: 1.25rem; bottom: 1.25rem; width: 3.5rem; height: 3.5rem; border-radius: 50%; border: 0; background: #2450d8; color: #fff; font-size: 1.5rem; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; }
      /* The icon is an inline SVG, not the 💬 emoji: a browser without an emoji font draws that as a box. */
      .bubble .icon { display: block; margin: auto; }
      button:focus-visible, textarea:focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
      .panel { position: fixed; right: 1.25rem; bottom: 5.5rem; width: min(22rem, calc(100vw - 2.5rem)); height: 28rem; display: flex; flex-direction: column; background: #fff; color: #1d2330; border: 1px solid #d5dae3; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.2); z-index: 2147483000; }
      .panel[hidden] { display: none; }
      header { padding: .7rem 1rem; background: #2450d8; color: #fff; border-radius: 12px 12px 0 0; font-weight: 700; }
      ol { list-style: none; margin: 0; padding: .75rem; overflow-y: auto; flex: 1; }
      li { margin: .4rem 0; padding: .5rem .7rem; border-radius: 10px; white-space: pre-wrap; font-size: .92rem; }
      li.user { background: #e3e9ff; margin-left: 2rem; } li.bot { background: #f1f3f7; margin-right: 2rem; }
      li.problem { background: #fff4f2; color: #b3261e; }
      .sources { display: block; margin-top: .35rem; font-size: .78rem; color: #5b6475; }
      form { display: flex; gap: .4rem; padding: .6rem; border-top: 1px solid #d5dae3; }
      label { position: absolute; left: -9999px; }
      textarea { flex: 1; resize: none; font: inherit; padding: .4rem; border: 1px solid #8b93a3; border-radius: 6px; }
      form button { border: 0; border-radius: 6px; background: #2450d8; color: #fff; padding: 0 .9rem; font: inherit; cursor: pointer; }
    </style>
    <button class="bubble" type="button" aria-expanded="false" aria-controls="panel" aria-label="Open chat"><svg class="icon" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false"><path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg></button>
    <section class="panel" id="panel" hidden aria-label="Chat">
      <header>Chat</header>
      <ol aria-live="polite"></ol>
      <form><label for="message">Your message</label><textarea id="message" rows="2" maxlength="8000" required></textarea><button type="submit">Send</button></form>
    </section>`;
  const bubble = root.querySelector(".bubble");
  const panel = root.querySelector(".panel");
  const list = root.querySelector("ol");
  const form = root.querySelector("form");
  const input = root.querySelector("textarea");
  const send = form.querySelector("button");
  let token = localStorage.getItem(storageKey);
  let started = false;
  // The last message whose send failed: sending the same text again reuses its Idempotency-Key, so the
  // server stores the question once however many tries it takes.
  let unsent = null;

  // randomUUID exists only in secure contexts (https, localhost), and embedding pages may be plain http.
  function newIdempotencyKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Until the visitor's conversation is ready there is nothing to send to.
  function ready(isReady) {
    input.disabled = !isReady;
    send.disabled = !isReady;
  }
  ready(false);

  function add(role, text, sources) {
    const item = document.createElement("li");
    item.className = role;
    item.textContent = text;
    if (sources && sources.length) {
      const cited = document.createElement("span");
      cited.className = "sources";
      cited.textContent = `Sources: ${[...new Set(sources.map((source) => source.document_name || "a document"))].join(", ")}`;
      item.append(cited);
    }
    list.append(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }

  async function call(path, { method = "GET", body, headers: extra = {} } = {}) {
    const headers = { Accept: "application/json", ...extra };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["X-Visitor-Token"] = token;
    let response;
    try {
      response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      // A CORS refusal looks the same as a network failure to a script.
      throw new Error("This chat is not available on this site.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error(response.status === 429
        ? `Too many messages; try again in ${response.headers.get("Retry-After") || "a few"} seconds.`
        : (data && data.error && data.error.message) || "The chat failed; try again.");
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function start() {
    const bot = await call("/");
    root.querySelector("header").textContent = bot.name;
    if (token) {
      try {
        const conversation = await call("/conversation/");
        if (bot.welcome_message) add("bot", bot.welcome_message);
        for (const message of conversation.messages) add(message.role === "USER" ? "user" : "bot", message.content, message.sources);
        return;
      } catch (error) {
        if (error.status !== 401) throw error;
      }
    }
    const created = await call("/conversations/", { method: "POST" });
    token = created.visitor_token;
    localStorage.setItem(storageKey, token);
    if (bot.welcome_message) add("bot", bot.welcome_message);
  }

  bubble.addEventListener("click", async () => {
    panel.hidden = !panel.hidden;
    bubble.setAttribute("aria-expanded", String(!panel.hidden));
    bubble.setAttribute("aria-label", panel.hidden ? "Open chat" : "Close chat");
    if (panel.hidden) return;
    input.focus();
    if (started) return;
    started = true;
    try {
      await start();
      ready(true);
      input.focus();
    } catch (error) {
      started = false;
      add("problem", error.message);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !token) return;
    const key = unsent && unsent.text === text ? unsent.key : newIdempotencyKey();
    unsent = { text, key };
    input.value = "";
    const sent = add("user", text);
    try {
      const reply = await call("/chat/", { method: "POST", body: { message: text }, headers: { "Idempotency-Key": key } });
      unsent = null;
      add("bot", reply.bot_message.content, reply.bot_message.sources);
    } catch (error) {
      // Back to the box: Send resends it, under the same key, and it shows again then.
      sent.remove();
      if (!input.value) input.value = text;
      add("problem", error.message);
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  document.body.append(host);
})();
