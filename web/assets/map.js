// A map drawn from the institutions' own coordinates: SVG, no tiles, nothing from outside.
// Each district is the convex hull of its institutions (a sketch of where it lies, not a boundary).

const SVG_NS = "http://www.w3.org/2000/svg";
const HUES = [152, 205, 28, 265, 340, 95, 185, 48, 300, 0, 230];

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function hull(points) {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (const p of pts.slice().reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/**
 * Draw ``base`` (every filed institution: the city) and mark ``shown`` (the current search).
 * Items: {id, name, latitude, longitude, puhui_slots, district: {code, name}}.
 */
export function drawMap(svg, base, shown, { width = 800, onSelect = null, focusId = null } = {}) {
  // keep the accessible description (<desc>); redraw everything else
  for (const child of [...svg.children]) if (child.tagName !== "desc") child.remove();
  const all = base.length ? base : shown;
  if (!all.length) {
    svg.setAttribute("viewBox", "0 0 800 200");
    svg.append(el("text", { x: 400, y: 100, "text-anchor": "middle", fill: "#56606b" }, "暂无机构"));
    return;
  }
  const lats = all.map((i) => i.latitude);
  const lngs = all.map((i) => i.longitude);
  const [minLat, maxLat, minLng, maxLng] = [Math.min(...lats), Math.max(...lats), Math.min(...lngs), Math.max(...lngs)];
  const k = Math.cos(((minLat + maxLat) / 2) * (Math.PI / 180));
  const spanX = Math.max((maxLng - minLng) * k, 0.01);
  const spanY = Math.max(maxLat - minLat, 0.01);
  const pad = 24;
  const scale = (width - 2 * pad) / spanX;
  const height = Math.round(spanY * scale + 2 * pad);
  const x = (lng) => pad + (lng - minLng) * k * scale;
  const y = (lat) => pad + (maxLat - lat) * scale;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);

  const byDistrict = new Map();
  for (const i of all) {
    const key = i.district.code;
    if (!byDistrict.has(key)) byDistrict.set(key, { name: i.district.name, pts: [] });
    byDistrict.get(key).pts.push([x(i.longitude), y(i.latitude)]);
  }
  const areas = el("g", { "aria-hidden": "true" });
  const labels = el("g", { "aria-hidden": "true" });
  [...byDistrict.keys()].sort().forEach((code, n) => {
    const { name, pts } = byDistrict.get(code);
    const h = hull(pts);
    const hue = HUES[n % HUES.length];
    if (h.length >= 3) {
      areas.append(
        el("polygon", {
          points: h.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "),
          fill: `hsla(${hue}, 45%, 70%, 0.25)`,
          stroke: `hsla(${hue}, 45%, 40%, 0.6)`,
          "stroke-width": 1.5,
          "stroke-linejoin": "round",
        }),
      );
    }
    const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
    const cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
    labels.append(
      el("text", { x: cx.toFixed(1), y: cy.toFixed(1), "text-anchor": "middle", class: "district-label",
        "font-size": 15, "font-weight": 700, fill: `hsl(${hue}, 40%, 25%)`, stroke: "#fff", "stroke-width": 3,
        "paint-order": "stroke" }, name),
    );
  });
  svg.append(areas);

  const shownIds = new Set(shown.map((i) => i.id));
  const dots = el("g", { "aria-hidden": "true" });
  for (const i of base) {
    if (shownIds.has(i.id)) continue;
    dots.append(el("circle", { cx: x(i.longitude).toFixed(1), cy: y(i.latitude).toFixed(1), r: 1.6, fill: "#9aa4ae" }));
  }
  for (const i of shown) {
    const dot = el("circle", {
      cx: x(i.longitude).toFixed(1),
      cy: y(i.latitude).toFixed(1),
      r: i.id === focusId ? 7 : 3.2,
      fill: i.puhui_slots > 0 ? "#0b8a5a" : "#1f5fbf",
      stroke: i.id === focusId ? "#000" : "#fff",
      "stroke-width": i.id === focusId ? 2 : 0.8,
      class: "institution-dot",
      "data-id": i.id,
    });
    dot.append(el("title", {}, `${i.name}（${i.district.name}，托位${i.total_slots}）`));
    if (onSelect) {
      dot.style.cursor = "pointer";
      dot.addEventListener("click", () => onSelect(i));
    }
    dots.append(dot);
  }
  svg.append(dots);
  svg.append(labels);
}
