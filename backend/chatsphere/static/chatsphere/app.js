// The ChatSphere web app: one page, plain DOM. The address (#/bots/<id>/<tab>[/<conversation>]) holds
// where the user is, so a reload comes back to the same bot and conversation.
import { api, ApiError, loggedIn, login, logout, newIdempotencyKey, register } from "./api.js";
import { streamChat } from "./sse.js";

const $ = (selector) => document.querySelector(selector);
const POLL_MS = 1000;
const state = { bots: [], bot: null, tab: "chat", conversation: null, pollTimer: null, renderGeneration: 0 };

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function notify(message) {
  const notice = $("#notice");
  notice.textContent = message || "";
  notice.hidden = !message;
}

// Runs an action; any failure is shown to the user in words.
async function attempt(action) {
  notify("");
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showAuth("Your session ended; please log in again.");
    notify(error.message || "Something went wrong.");
    return undefined;
  }
}

function route() {
  const [, bots, botId, tab, conversationId] = location.hash.split("/");
  return bots === "bots" ? { botId, tab: tab || "chat", conversationId } : {};
}

function go(botId, tab = state.tab, conversationId = null) {
  location.hash = `#/bots/${botId}/${tab}${conversationId ? `/${conversationId}` : ""}`;
}

function showAuth(message) {
  logout();
  $("#auth").hidden = false;
  $("#workspace").hidden = true;
  $("#session").hidden = true;
  notify(message);
  $("#login-username").focus();
}

async function showWorkspace() {
  const me = await api("/users/me/");
  $("#whoami").textContent = `Signed in as ${me.username}`;
  $("#auth").hidden = true;
  $("#session").hidden = false;
  $("#workspace").hidden = false;
  await loadBots();
  await render();
}

async function loadBots() {
  state.bots = (await api("/bots/")).results;
  $("#bot-list").replaceChildren(
    ...state.bots.map((bot) =>
      el("li", {}, el("a", { href: `#/bots/${bot.id}/chat`, "aria-current": state.bot && state.bot.id === bot.id ? "page" : null }, bot.name)),
    ),
  );
}

// A tab's panel is shown only once its content is loaded, so nothing a user types into it is overwritten by
// a late render; and only the newest render may touch the page (a slower, older one gives way).
async function render() {
  clearTimeout(state.pollTimer);
  const generation = ++state.renderGeneration;
  const isStale = () => generation !== state.renderGeneration;
  const { botId, tab, conversationId } = route();
  await loadBots();
  if (isStale()) return;
  const bot = state.bots.find((candidate) => candidate.id === botId);
  $("#bot-panel").hidden = !bot;
  if (!bot) return;
  state.bot = bot;
  state.tab = tab;
  $("#bot-title").textContent = bot.name;
  for (const button of document.querySelectorAll("[role=tab]")) {
    const selected = button.dataset.tab === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
  }
  if (tab === "chat") await renderChat(conversationId);
  if (tab === "documents") await renderDocuments();
  if (tab === "settings") renderSettings();
  if (tab === "widget") renderWidget();
  if (isStale()) return;
  for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== tab;
}

// --- chat ---------------------------------------------------------------------------------------------

async function renderChat(conversationId) {
  const conversations = (await api(`/conversations/?bot=${state.bot.id}`)).results;
  $("#conversation-list").replaceChildren(
    ...conversations.map((conversation) =>
      el("li", {}, el("a", {
        href: `#/bots/${state.bot.id}/chat/${conversation.id}`,
        "aria-current": conversation.id === conversationId ? "page" : null,
      }, conversation.title || "New conversation")),
    ),
  );
  state.conversation = conversationId || null;
  $("#messages").replaceChildren();
  if (conversationId) {
    const conversation = await api(`/conversations/${conversationId}/`);
    for (const message of conversation.messages) $("#messages").append(messageItem(message));
  } else if (state.bot.welcome_message) {
    $("#messages").append(messageItem({ role: "BOT", content: state.bot.welcome_message, sources: [] }));
  }
}

function citations(sources) {
  const list = el("ul", { class: "citations", "aria-label": "Sources" });
  sources.forEach((source, index) => {
    const name = source.document_name || "a deleted document";
    list.append(el("li", {}, el("button", {
      type: "button",
      class: "citation",
      onclick: () => openCitation(name, source.text),
    }, `[${index + 1}] ${name}`)));
  });
  return list;
}

function openCitation(name, text) {
  $("#citation-title").textContent = name;
  $("#citation-text").textContent = text;
  $("#citation").showModal();
}

function messageItem(message) {
  const item = el("li", { class: `message ${message.role === "USER" ? "user" : "bot"}` },
    el("span", { class: "who" }, message.role === "USER" ? "You" : state.bot.name),
    el("p", { class: "content" }, message.content));
  if (message.sources && message.sources.length) item.append(citations(message.sources));
  return item;
}

// The last message whose send failed: sending the same text again in the same conversation reuses its
// Idempotency-Key, so the server stores the question once however many tries it takes.
let unsent = null;

async function sendMessage(text) {
  let conversationId = state.conversation;
  if (!conversationId) {
    conversationId = (await api("/conversations/", { method: "POST", json: { bot: state.bot.id } })).id;
    state.conversation = conversationId;
    history.replaceState(null, "", `#/bots/${state.bot.id}/chat/${conversationId}`);
  }
  const resend = unsent && unsent.conversationId === conversationId && unsent.text === text;
  const key = resend ? unsent.key : newIdempotencyKey();
  unsent = { conversationId, text, key };
  const pendingUser = messageItem({ role: "USER", content: text, sources: [] });
  const answer = messageItem({ role: "BOT", content: "", sources: [] });
  answer.classList.add("streaming");
  $("#messages").append(pendingUser, answer);
  const content = answer.querySelector(".content");
  let sources = [];
  let failure = null;
  try {
    await streamChat(`/conversations/${conversationId}/chat/`, text, key, {
      onUserMessage: () => {},
      onSources: (received) => { sources = received; },
      onToken: (delta) => { content.textContent += delta; },
      onDone: (message) => {
        answer.replaceWith(messageItem({ role: "BOT", content: message.content ?? content.textContent, sources: message.sources || sources }));
      },
      onError: (message) => { failure = new Error(message); },
    });
  } catch (error) {
    failure = error;
  }
  if (failure) {
    // The text goes back to the box (the chat form's handler) and shows again when it is resent.
    pendingUser.remove();
    answer.remove();
    throw failure;
  }
  unsent = null;
  await renderChat(conversationId);
}

// --- documents ----------------------------------------------------------------------------------------

const STATUS_WORDS = { PROCESSING: "Processing…", READY: "Ready", ERROR: "Failed", CRAWLING: "Crawling…" };

async function renderDocuments() {
  const [documents, websites] = await Promise.all([
    api(`/documents/?bot=${state.bot.id}`).then((page) => page.results),
    api(`/sources/?bot=${state.bot.id}`).then((page) => page.results),
  ]);
  $("#website-list").replaceChildren(...websites.map((website) => el("tr", { "data-website": website.id },
    el("td", {}, website.start_url, website.recrawl_interval_hours ? el("span", { class: "page-url" }, ` every ${website.recrawl_interval_hours} h`) : ""),
    el("td", {}, el("span", { class: `status ${website.status.toLowerCase()}`, "data-status": website.status }, STATUS_WORDS[website.status]),
      website.message ? el("span", { class: "error-message" }, ` ${website.message}`) : ""),
    el("td", {}, String(website.page_count)),
    el("td", {},
      el("button", { type: "button", disabled: website.status === "CRAWLING" ? "" : null, onclick: () => attempt(async () => { await api(`/sources/${website.id}/crawl/`, { method: "POST" }); await renderDocuments(); }) }, "Re-crawl"),
      " ",
      el("button", { type: "button", class: "danger", onclick: () => attempt(() => deleteWebsite(website)) }, "Delete")),
  )));
  $("#document-list").replaceChildren(...documents.map((document_) => el("tr", { "data-document": document_.id },
    el("td", {}, document_.name, document_.url ? el("span", { class: "page-url" }, ` ${document_.url}`) : ""),
    el("td", {}, el("span", { class: `status ${document_.status.toLowerCase()}`, "data-status": document_.status }, STATUS_WORDS[document_.status]),
      document_.error_message ? el("span", { class: "error-message" }, ` ${document_.error_message}`) : ""),
    el("td", {}, String(document_.chunk_count)),
    el("td", {},
      el("button", { type: "button", disabled: document_.status === "READY" ? null : "", onclick: () => attempt(() => showChunks(document_)) }, "Show chunks"),
      " ",
      document_.status === "ERROR" ? el("button", { type: "button", onclick: () => attempt(async () => { await api(`/documents/${document_.id}/retry/`, { method: "POST" }); await renderDocuments(); }) }, "Retry") : "",
      " ",
      el("button", { type: "button", class: "danger", onclick: () => attempt(() => deleteDocument(document_)) }, "Delete")),
  )));
  if (documents.some((document_) => document_.status === "PROCESSING") || websites.some((website) => website.status === "CRAWLING")) {
    state.pollTimer = setTimeout(() => attempt(() => state.tab === "documents" && renderDocuments()), POLL_MS);
  }
}

async function showChunks(document_) {
  const chunks = (await api(`/documents/${document_.id}/chunks/`)).results;
  $("#chunks-title").textContent = `Chunks of ${document_.name}`;
  $("#chunk-list").replaceChildren(...chunks.map((chunk) => el("li", { value: String(chunk.index + 1) }, chunk.content)));
  $("#chunks").hidden = false;
}

async function deleteWebsite(website) {
  if (!confirm(`Delete ${website.start_url} and its pages? The bot forgets them.`)) return;
  await api(`/sources/${website.id}/`, { method: "DELETE" });
  await renderDocuments();
}

async function deleteDocument(document_) {
  if (!confirm(`Delete ${document_.name}? The bot forgets it.`)) return;
  await api(`/documents/${document_.id}/`, { method: "DELETE" });
  $("#chunks").hidden = true;
  await renderDocuments();
}

// --- settings and widget ------------------------------------------------------------------------------

function renderSettings() {
  const form = $("#settings-form");
  for (const name of ["name", "description", "welcome_message", "system_prompt", "model", "temperature", "retrieval_top_k", "retrieval_min_score"]) {
    form.elements[name].value = state.bot[name];
  }
  form.elements.is_active.checked = state.bot.is_active;
}

function renderWidget() {
  const bot = state.bot;
  $("#widget-origins").value = bot.widget_origins.join("\n");
  $("#widget-info").hidden = !bot.widget_key;
  $("#widget-revoke").disabled = !bot.widget_key;
  if (bot.widget_key) {
    $("#widget-key").textContent = bot.widget_key;
    $("#widget-snippet").value = `<script src="${location.origin}/static/chatsphere/widget.js" data-bot-key="${bot.widget_key}" async></script>`;
  }
}

async function replaceBot(updated) {
  state.bots = state.bots.map((bot) => (bot.id === updated.id ? updated : bot));
  state.bot = updated;
  await render();
}

// --- wiring -------------------------------------------------------------------------------------------

function on(selector, event, handler) {
  $(selector).addEventListener(event, (domEvent) => {
    if (event === "submit") domEvent.preventDefault();
    attempt(() => handler(domEvent));
  });
}

on("#login-form", "submit", async (event) => {
  const form = event.target;
  await login(form.elements.username.value, form.elements.password.value);
  await showWorkspace();
});
on("#signup-form", "submit", async (event) => {
  const form = event.target;
  await register(form.elements.username.value, form.elements.email.value, form.elements.password.value);
  await showWorkspace();
});
on("#logout", "click", () => { location.hash = ""; showAuth(""); });
on("#new-bot-form", "submit", async (event) => {
  const bot = await api("/bots/", { method: "POST", json: { name: event.target.elements.name.value } });
  event.target.reset();
  state.bots.unshift(bot);
  go(bot.id, "documents");
});
on("#settings-form", "submit", async (event) => {
  const form = event.target;
  const json = {
    name: form.elements.name.value,
    description: form.elements.description.value,
    welcome_message: form.elements.welcome_message.value,
    system_prompt: form.elements.system_prompt.value,
    model: form.elements.model.value,
    temperature: Number(form.elements.temperature.value),
    retrieval_top_k: Number(form.elements.retrieval_top_k.value),
    retrieval_min_score: Number(form.elements.retrieval_min_score.value),
    is_active: form.elements.is_active.checked,
  };
  await replaceBot(await api(`/bots/${state.bot.id}/`, { method: "PATCH", json }));
  notify("Settings saved.");
});
on("#delete-bot", "click", async () => {
  if (!confirm(`Delete ${state.bot.name} with all its documents and conversations?`)) return;
  await api(`/bots/${state.bot.id}/`, { method: "DELETE" });
  state.bot = null;
  location.hash = "";
  await loadBots();
  await render();
});
on("#upload-form", "submit", async (event) => {
  const form = new FormData();
  form.append("bot", state.bot.id);
  form.append("file", event.target.elements.file.files[0]);
  await api("/documents/", { method: "POST", form });
  event.target.reset();
  await renderDocuments();
});
on("#text-form", "submit", async (event) => {
  const elements = event.target.elements;
  await api("/documents/train_text/", { method: "POST", json: { bot: state.bot.id, name: elements.name.value, text: elements.text.value } });
  event.target.reset();
  await renderDocuments();
});
on("#website-form", "submit", async (event) => {
  const elements = event.target.elements;
  const json = { bot: state.bot.id, start_url: elements.start_url.value };
  if (elements.sitemap_url.value) json.sitemap_url = elements.sitemap_url.value;
  if (elements.recrawl_interval_hours.value) json.recrawl_interval_hours = Number(elements.recrawl_interval_hours.value);
  await api("/sources/", { method: "POST", json });
  event.target.reset();
  await renderDocuments();
});
on("#new-conversation", "click", () => go(state.bot.id, "chat"));
on("#chat-form", "submit", async (event) => {
  const input = event.target.elements.message;
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  try {
    await sendMessage(text);
  } catch (error) {
    // Left in the box after a failure: Send resends it, under the same Idempotency-Key.
    if (!input.value) input.value = text;
    throw error;
  }
  input.focus();
});
$("#chat-input").addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter is a new line.
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("#chat-form").requestSubmit();
  }
});
on("#widget-form", "submit", async () => {
  const origins = $("#widget-origins").value.split(/\s+/).filter(Boolean);
  await replaceBot(await api(`/bots/${state.bot.id}/widget/`, { method: "POST", json: { allowed_origins: origins } }));
});
on("#widget-revoke", "click", async () => {
  if (!confirm("Revoke the key? Every page using it stops at once.")) return;
  await replaceBot(await api(`/bots/${state.bot.id}/widget/`, { method: "DELETE" }));
});
for (const button of document.querySelectorAll("[role=tab]")) {
  button.addEventListener("click", () => go(state.bot.id, button.dataset.tab));
  button.addEventListener("keydown", (event) => {
    // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
    const tabs = [...document.querySelectorAll("[role=tab]")];
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(tabs.indexOf(button) + step + tabs.length) % tabs.length];
    next.focus();
    next.click();
  });
}
window.addEventListener("hashchange", () => attempt(render));

attempt(async () => {
  if (!loggedIn()) return showAuth("");
  return showWorkspace();
});
