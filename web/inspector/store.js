// The app's memory on the phone (IndexedDB): what survives a reload, a killed tab and a dead signal.
//   kv       settings and caches by name (the token, my tasks, the catalogue)
//   tasks    task details as last answered by the service, with their ETag
//   drafts   whatever is being typed, saved on every keystroke (a note, a violation's description)
//   outbox   every write in the order it was made, each with its Idempotency-Key, until the service
//            has answered it (queue.js sends them)
//   photos   photos taken (the resized bytes and a thumbnail), by the SHA-256 of their bytes
const DB_NAME = "childcare-inspector";
const VERSION = 1;
let opening = null;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function db() {
  if (!opening) {
    const request = indexedDB.open(DB_NAME, VERSION);
    request.onupgradeneeded = () => {
      const d = request.result;
      d.createObjectStore("kv");
      d.createObjectStore("tasks");
      d.createObjectStore("drafts");
      d.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      d.createObjectStore("photos");
    };
    opening = promised(request);
  }
  return opening;
}

async function run(store, mode, work) {
  const d = await db();
  const tx = d.transaction(store, mode);
  const result = await work(tx.objectStore(store));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  return result;
}

export const get = (store, key) => run(store, "readonly", (s) => promised(s.get(key)));
export const put = (store, value, key) =>
  run(store, "readwrite", (s) => promised(key === undefined ? s.put(value) : s.put(value, key)));
export const del = (store, key) => run(store, "readwrite", (s) => promised(s.delete(key)));
export const all = (store) => run(store, "readonly", (s) => promised(s.getAll()));
export const clear = (store) => run(store, "readwrite", (s) => promised(s.clear()));
