// 任务地图: the sites of my tasks (today's and this week's) on the public 托育地图's map: the same
// Leaflet and district boundaries (CityMap in ../assets/citymap.js, vendor/ files from npm, loaded by
// index.html with their fingerprints and kept by the service worker, so the map works offline with
// the phone's copy of the tasks). No base map unless the deployment configures one (assets/config.js):
// nothing is requested from outside the platform.
//
// The list under the map stays the way to reach a task by keyboard or screen reader; the markers
// are focusable buttons too (Enter opens the task, as a tap does).
const L = window.L;

let cityMapModule = null;
// Fitting never zooms in further than this: a single site (or a site and the phone beside it) is
// shown among its district's boundary and names, not alone on an empty square (no base map).
const FIT_MAX_ZOOM = 12;

/** One marker per site: today's filled, this week's a ring (told apart without colour too). */
function taskMarker(task, when, site, open) {
  const label = `${when === "today" ? "今日" : "本周"}：${task.name}`;
  const marker = L.marker([site.lat, site.lng], {
    icon: L.divIcon({ className: `task-marker task-marker-${when}`, html: "", iconSize: L.point(30, 30) }),
    title: label,
    keyboard: true,
    riseOnHover: true,
  });
  marker.on("click", () => open(task.id));
  return marker;
}

/**
 * Draw the map in ``container``: ``tasks`` [{id, name, when: "today"|"week", site: {lat, lng}}],
 * ``open(id)`` opens a task. Resolves to the drawn map (``showPosition`` adds the phone's position).
 */
export async function drawTaskMap(container, tasks, open) {
  if (!L) throw new Error("地图组件未加载");
  cityMapModule = cityMapModule || (await import("../assets/citymap.js"));
  const city = new cityMapModule.CityMap(container, {
    tileLayers: (window.CHILDCARE_MAP && window.CHILDCARE_MAP.tileLayers) || [],
  });
  const layer = L.featureGroup().addTo(city.map);
  for (const t of tasks) layer.addLayer(taskMarker(t, t.when, t.site, open));
  container.dataset.markers = String(tasks.length);
  // a jump, not an animation: the view is set once when drawn and once when the position arrives
  const fit = (bounds) => city.map.fitBounds(bounds, { padding: [24, 24], maxZoom: FIT_MAX_ZOOM, animate: false });
  if (tasks.length) fit(layer.getBounds());
  return {
    city,
    /** The phone's position (a dot, not a button: it opens nothing). */
    showPosition(here) {
      // above the task markers (an inspector on site is on the marker), never catching a tap meant for them
      if (!city.map.getPane("me")) {
        const pane = city.map.createPane("me");
        pane.style.zIndex = "650";
        pane.style.pointerEvents = "none";
      }
      L.marker([here.lat, here.lng], {
        pane: "me",
        icon: L.divIcon({ className: "my-position", html: "", iconSize: L.point(16, 16) }),
        interactive: false,
        keyboard: false,
      }).addTo(city.map);
      const bounds = L.latLngBounds([[here.lat, here.lng]]);
      if (tasks.length) bounds.extend(layer.getBounds());
      fit(bounds);
      container.dataset.position = "shown";
    },
  };
}
