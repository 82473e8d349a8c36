// The public HTTP API, as the console calls it: JSON in and out, errors as ApiError with the
// server's code and message, the CSRF token on every change, and SSE subscriptions.

let csrf = null;
let onUnauthorized = () => {};

/** An error reply: its status, stable code and message. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** Where the session stands: {key_required, signed_in, csrf?}. Keeps the CSRF token. */
export async function session() {
  const reply = await fetch("/ui/session", { credentials: "same-origin" });
  const status = await reply.json();
  csrf = status.csrf ?? null;
  return status;
}

/** Signs in with the API key; the server sets the cookie. */
export async function signIn(key) {
  const reply = await fetch("/ui/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key }),
  });
  if (!reply.ok) throw await errorOf(reply);
  return session();
}

/** Signs out: the server drops the cookie. */
export async function signOut() {
  await fetch("/ui/session", { method: "DELETE", credentials: "same-origin" });
  csrf = null;
}

/** What to do when a request is refused for want of the key. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

async function errorOf(reply) {
  let body = null;
  try { body = await reply.json(); } catch { /* not JSON */ }
  return new ApiError(reply.status, body?.error ?? `http_${reply.status}`, body?.message ?? reply.statusText, body);
}

/** A request to the API; resolves to the reply's JSON (null for an empty reply). */
export async function call(method, path, { body, query, raw } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = {};
  if (method !== "GET" && csrf) headers["x-cairn-csrf"] = csrf;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["content-type"] = "application/wasm";
  } else if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  const reply = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  if (reply.status === 401) onUnauthorized();
  if (!reply.ok) throw await errorOf(reply);
  const text = await reply.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body, query) => call("POST", path, { body, query });

/** A path segment, escaped. */
export const seg = (s) => encodeURIComponent(s);

/**
 * An SSE subscription to `path` with `query`; calls `on[eventName](data, id)` for each event.
 * Returns a function that closes it.
 */
export function subscribe(path, query, on) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const source = new EventSource(url, { withCredentials: true });
  for (const [name, handler] of Object.entries(on)) {
    if (name === "open" || name === "failed") continue;
    source.addEventListener(name, (e) => {
      // A failed connection is an `error` event too, with no data: `failed` hears of it.
      if (!(e instanceof MessageEvent)) return;
      let data = e.data;
      try { data = JSON.parse(e.data); } catch { /* keep the text */ }
      handler(data, e.lastEventId);
    });
  }
  source.onopen = () => on.open?.();
  source.onerror = () => on.failed?.(source.readyState === EventSource.CLOSED);
  return () => source.close();
}
