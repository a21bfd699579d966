// Chat that streams when the server streams: asks for text/event-stream and reads Server-Sent Events
// from the body; a server that answers JSON ({user_message, bot_message}) is handled too. Unknown events
// are ignored, so the parser survives new event types.
import { request } from "./api.js";

function* parseEvents(buffer) {
  for (const block of buffer.split(/\r?\n\r?\n/)) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue; // a heartbeat comment
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) {
      try {
        yield { event, data: JSON.parse(data.join("\n")) };
      } catch {
        /* not JSON: not one of ours */
      }
    }
  }
}

function botMessageOf(data) {
  if (data && data.bot_message) return data.bot_message;
  if (data && data.message && data.message.role) return data.message;
  return data;
}

// handlers: onUserMessage(message), onSources(sources), onToken(text), onDone(botMessage), onError(text)
export async function streamChat(path, text, idempotencyKey, handlers) {
  const response = await request(path, {
    method: "POST",
    json: { message: text },
    // Only the stream is asked for: DRF's negotiation ignores q-values, so listing JSON as well would get
    // JSON. A server that cannot stream (and every error) still answers JSON, read below.
    headers: { Accept: "text/event-stream", "Idempotency-Key": idempotencyKey },
  });
  if (!(response.headers.get("Content-Type") || "").includes("text/event-stream")) {
    const body = await response.json();
    handlers.onUserMessage(body.user_message);
    handlers.onDone(body.bot_message);
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    const end = pending.lastIndexOf("\n\n");
    if (end === -1) continue;
    const complete = pending.slice(0, end);
    pending = pending.slice(end + 2);
    for (const { event, data } of parseEvents(complete)) dispatch(event, data, handlers);
  }
  for (const { event, data } of parseEvents(pending)) dispatch(event, data, handlers);
}

function dispatch(event, data, handlers) {
  if (event === "sources") handlers.onSources(Array.isArray(data) ? data : data.sources || []);
  else if (event === "token") handlers.onToken(data.text || "");
  else if (event === "done") handlers.onDone(botMessageOf(data));
  else if (event === "error") handlers.onError((data.error && data.error.message) || "The answer failed; try again.");
  else if (data && (data.user_message || (data.role === "USER" && data.content !== undefined)))
    handlers.onUserMessage(data.user_message || data);
}
