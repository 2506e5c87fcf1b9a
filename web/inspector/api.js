// The inspection service's mobile API. The app is served by the inspection service itself
// (/ui/inspector/ on its port), so every call is same-origin: writes need no CORS, and the service
// worker of /ui/inspector/ sees them. A deployment behind one proxy keeps the same paths.
import * as store from "./store.js";

export const BASE = (window.CHILDCARE_INSPECTOR && window.CHILDCARE_INSPECTOR.api) || window.location.origin;

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** A network failure (no signal, offline): the write stays in the queue, a read falls back to the cache. */
export class Offline extends Error {}

export async function token() {
  return store.get("kv", "token");
}

export async function request(method, path, { body, headers = {}, raw = false } = {}) {
  const auth = await token();
  const sent = { Accept: "application/json", ...headers };
  if (auth) sent.Authorization = `Bearer ${auth}`;
  let payload;
  if (body instanceof ArrayBuffer || body instanceof Blob) {
    payload = body;
  } else if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, { method, headers: sent, body: payload, cache: "no-store" });
  } catch (err) {
    throw new Offline("网络不可用");
  }
  if (response.status === 304) return { status: 304, body: null, etag: response.headers.get("ETag") };
  let parsed = null;
  if (raw && response.ok) {
    parsed = await response.blob();
  } else {
    try {
      parsed = await response.json();
    } catch (err) {
      parsed = null;
    }
  }
  if (!response.ok) {
    const error = parsed && parsed.error ? parsed.error : {};
    throw new ApiError(response.status, error.code || "http", error.message || `服务返回错误（${response.status}）`, error.field);
  }
  return { status: response.status, body: parsed, etag: response.headers.get("ETag") };
}

// One download per resource at a time: the list's refresh prefetches a task while the inspector
// opens it; both would send the same (or no) ETag and download the same body twice.
const inFlight = new Map();

/** GET with the last ETag: 304 answers with the cached copy (a task opened again costs a few bytes).
 * `fresh`: the answer must come from a request sent now (a re-read after a write): one already in
 * flight may carry the state from before the write, so it is waited for, then the read is sent. */
export function getCached(store_, key, path, { fresh = false } = {}) {
  const id = `${store_}\u0000${key}\u0000${path}`;
  const pending = inFlight.get(id);
  if (pending && !fresh) return pending;
  const send = () =>
    fetchCached(store_, key, path).finally(() => {
      if (inFlight.get(id) === started) inFlight.delete(id);
    });
  const started = pending ? pending.catch(() => {}).then(send) : send();
  inFlight.set(id, started);
  return started;
}

async function fetchCached(store_, key, path) {
  const cached = await store.get(store_, key);
  const headers = cached && cached.etag ? { "If-None-Match": cached.etag } : {};
  const answer = await request("GET", path, { headers });
  if (answer.status === 304 && cached) return { ...cached, fresh: true, notModified: true };
  const entry = { body: answer.body, etag: answer.etag, fetchedAt: new Date().toISOString() };
  await store.put(store_, entry, key);
  return { ...entry, fresh: true, notModified: false };
}
