// The REST API client: the access token lives only in memory; the refresh token in sessionStorage, so a
// reload of the tab stays logged in while closing it logs out. A 401 refreshes once and retries.
const REFRESH_KEY = "chatsphere.refresh";
let accessToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

function describe(status, body) {
  const error = body && body.error;
  if (!error) return status === 0 ? "The server cannot be reached. Check your connection." : `The server answered ${status}.`;
  const fields = (error.details || []).map((d) => (d.field && d.field !== "non_field_errors" ? `${d.field}: ${d.message}` : d.message));
  return fields.length ? `${error.message} ${fields.join(" ")}` : error.message;
}

export function loggedIn() {
  return accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

export function logout() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

async function send(path, { method = "GET", json, form, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  if (accessToken) init.headers.Authorization = `Bearer ${accessToken}`;
  try {
    return await fetch(`/api${path}`, init);
  } catch {
    throw new ApiError(0, null);
  }
}

async function refresh() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return false;
  const response = await send("/token/refresh/", { method: "POST", json: { refresh: token } });
  if (!response.ok) {
    logout();
    return false;
  }
  accessToken = (await response.json()).access;
  return true;
}

// The raw Response (for streaming), after one refresh-and-retry on 401; throws ApiError on other errors.
export async function request(path, options = {}) {
  if (!accessToken) await refresh();
  let response = await send(path, options);
  if (response.status === 401 && (await refresh())) response = await send(path, options);
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON: describe() falls back to the status */
    }
    if (response.status === 401) logout();
    throw new ApiError(response.status, body);
  }
  return response;
}

// One per message, sent as its Idempotency-Key and reused when the same message is sent again after a
// failure: the server then stores the question once. randomUUID exists only in secure contexts (https,
// localhost); getRandomValues everywhere.
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export async function api(path, options = {}) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

export async function login(username, password) {
  accessToken = null;
  const response = await send("/token/", { method: "POST", json: { username, password } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) throw new Error("That username and password do not match an account.");
    throw new ApiError(response.status, body);
  }
  accessToken = body.access;
  sessionStorage.setItem(REFRESH_KEY, body.refresh);
}

export async function register(username, email, password) {
  const response = await send("/register/", { method: "POST", json: { username, email, password } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  await login(username, password);
}
