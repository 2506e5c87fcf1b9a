// The service worker of the inspectors' app (scope /ui/inspector/): the app opens without a signal.
// The shell (pages, scripts, styles, icons) is served from the cache and refreshed behind it (a new
// version shows on the next start); the checklist and the violation catalogue are answered from the
// network when it answers and from the cache when it does not. Task data and the writes are the
// app's own business (IndexedDB, store.js and queue.js), so nothing here ever replays a write.
// 任务地图 needs the public map's files too (CityMap, the district boundaries, Leaflet): they are
// cached at install with the shell, Leaflet under the fingerprinted names index.html gives it.
const CACHE = "inspector-v4";
const SHELL = [
  "./",
  "./index.html",
  "./app.js",
  "./api.js",
  "./auth.js",
  "./geo.js",
  "./photo.js",
  "./queue.js",
  "./store.js",
  "./taskmap.js",
  "./inspector.css",
  "./manifest.webmanifest",
  "./icon-192.png",
  "./icon-512.png",
  "../assets/config.js",
  "../assets/citymap.js",
  "../assets/common.js",
  "../vendor/gz-districts.js",
];
const MAP_SHARED = new Set(["/ui/assets/config.js", "/ui/assets/citymap.js", "/ui/assets/common.js"]);

/** The vendor/ files index.html loads (../vendor/x?v=<fingerprint>, as web/heads.mjs stamps them). */
async function vendorOfPage() {
  const page = await (await fetch("./index.html", { cache: "no-cache" })).text();
  return [...page.matchAll(/(?:src|href)="(\.\.\/vendor\/[^"]+)"/g)].map((m) => m[1]);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then(async (cache) => cache.addAll([...SHELL, ...(await vendorOfPage())]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function shell(request) {
  const cache = await caches.open(CACHE);
  // a page opened with a query (the sign-in's ?code=) is the same page
  const key = request.mode === "navigate" ? new URL("./index.html", self.registration.scope).href : request;
  // ignoreVary: the services answer text with "Vary: Accept-Encoding", and a module script's request
  // is not the request that filled the cache; the cached body is decoded, whatever the encoding was
  const cached = await cache.match(key, { ignoreSearch: request.mode === "navigate", ignoreVary: true });
  const fresh = fetch(request)
    .then((response) => {
      if (response.ok && request.mode !== "navigate") cache.put(request, response.clone());
      return response;
    })
    .catch(() => null);
  if (cached) return cached;
  const response = await fresh;
  return response || new Response("离线，且本机尚未保存此页面", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

async function reference(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(request, { ignoreVary: true });
    if (cached) return cached;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  if (url.pathname.startsWith(scope.pathname) || MAP_SHARED.has(url.pathname) || url.pathname.startsWith("/ui/vendor/")) {
    event.respondWith(shell(request));
  } else if (url.pathname.startsWith("/v1/catalogue/")) {
    event.respondWith(reference(request));
  }
});
