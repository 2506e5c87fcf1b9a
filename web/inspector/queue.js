// The outbox: every write the inspector makes, in order, each with its own Idempotency-Key, kept in
// IndexedDB until the service has answered it. Sent whenever the network allows; a retry after a
// lost answer reuses the key, so the service never records anything twice.
// An answer that refuses the write (a 4xx) stops that task's later writes (they may depend on it)
// and is shown with what to do; a network failure or a 5xx just waits for the next attempt.
import { ApiError, Offline, request } from "./api.js";
import * as store from "./store.js";

const listeners = new Set();
let running = null;
let retryTimer = null;
// pending: writes not yet answered (kept in step with the outbox, without reading it)
export const state = { online: navigator.onLine, lastError: null, pending: 0 };

export async function count() {
  state.pending = (await store.all("outbox")).length;
  return state.pending;
}

export function onChange(fn) {
  listeners.add(fn);
}

function changed() {
  for (const fn of listeners) fn();
}

export const ADVICE = {
  not_on_team: "您已不在该任务的检查组中（任务可能已重新指派给其他检查员）。这条记录无法再提交：请把内容转告现检查组或科室负责人，然后丢弃。",
  removed_from_team: "您已被移出该任务的检查组（如回避或重新指派）。这条记录无法再提交：请把内容转告现检查组或科室负责人，然后丢弃。",
  inspector_inactive: "您的检查员资格已停用，记录无法提交。请联系科室负责人。",
  task_closed: "该任务已提交或已审核，不能再修改。如需补充，请联系审核人后丢弃这条记录。",
  task_needs_reassignment: "该任务正等待重新指派检查组，暂不能提交。请联系科室负责人，指派完成后点“重试”。",
  idempotency_key_reused: "服务端已有另一条使用同一编号的记录。请核对任务中的内容，丢弃这条后重新录入。",
  checklist_incomplete: "还有检查项没有填写。请先完成检查表，再点“重试”。",
  task_not_found: "服务端找不到该任务（可能已撤销）。请联系科室负责人后丢弃这条记录。",
};

export function advice(error) {
  if (error.status === 401) return "登录已过期，请重新登录，然后点“重试”。";
  return ADVICE[error.code] || "请核对内容：可修改后重新录入并丢弃这条，或点“重试”。";
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** Queue a write: {kind, taskId, method, path, body?, photo?, label}. Answers the stored entry. */
export async function enqueue(entry) {
  const stored = { ...entry, key: newKey(), state: "pending", createdAt: new Date().toISOString() };
  stored.seq = await store.put("outbox", stored);
  state.pending += 1;
  changed();
  flush();
  return stored;
}

export async function entries() {
  const list = await store.all("outbox");
  return list.sort((a, b) => a.seq - b.seq);
}

export async function discard(seq) {
  await store.del("outbox", seq);
  state.pending -= 1;
  changed();
}

export async function retry(seq) {
  const entry = await store.get("outbox", seq);
  if (entry) {
    entry.state = "pending";
    delete entry.error;
    await store.put("outbox", entry);
  }
  changed();
  return flush();
}

async function send(entry) {
  if (entry.kind === "photo") {
    const photo = await store.get("photos", entry.photo);
    if (!photo) return { status: 200, body: null }; // discarded on this phone: nothing to send
    return request("POST", entry.path, { body: photo.bytes, headers: { "Content-Type": photo.mediaType } });
  }
  return request(entry.method, entry.path, { body: entry.body, headers: { "Idempotency-Key": entry.key } });
}

let sentHandler = async () => {};
/** What to do with a service's answer to a sent write (app.js refreshes the task). */
export function onSent(fn) {
  sentHandler = fn;
}

async function drain() {
  const blocked = new Set();
  const touched = new Set();
  for (const entry of await entries()) {
    if (entry.state === "conflict" || blocked.has(entry.taskId)) {
      blocked.add(entry.taskId);
      continue;
    }
    try {
      const answer = await send(entry);
      await store.del("outbox", entry.seq);
      state.pending -= 1;
      state.online = true;
      state.lastError = null;
      touched.add(entry.taskId);
      await sentHandler(entry, answer.body);
      changed();
    } catch (err) {
      if (err instanceof Offline) {
        state.online = false;
        changed();
        schedule();
        break;
      }
      if (err instanceof ApiError && (err.status >= 500 || err.status === 429)) {
        state.lastError = err.message;
        changed();
        schedule();
        break;
      }
      const error = err instanceof ApiError ? err : new ApiError(0, "client", String(err));
      entry.state = "conflict";
      entry.error = { status: error.status, code: error.code, message: error.message, advice: advice(error) };
      await store.put("outbox", entry);
      blocked.add(entry.taskId);
      changed();
    }
  }
  return touched;
}

function schedule() {
  if (retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    flush();
  }, 10000);
}

/** Send what is queued, in order; one run at a time. */
let again = false;
export function flush() {
  if (running) {
    again = true; // written while sending: one more pass once this one ends
    return running;
  }
  running = drain().finally(() => {
    running = null;
    if (again) {
      again = false;
      flush();
    }
  });
  return running;
}

window.addEventListener("online", () => {
  state.online = true;
  changed();
  flush();
});
window.addEventListener("offline", () => {
  state.online = false;
  changed();
});
