// 托育地图: the public directory with filters, a list and a map (Leaflet: the districts' real
// boundaries, clustered markers). A point picked on the map, the map's centre or the visitor's own
// position searches by distance (the API's near=lat,lng&radius_km=), nearest first.
import { CONCLUSION_CLASS, esc, fmt, getAll, gradeBadge, setStatus } from "./common.js";
import { CityMap, districtAt } from "./citymap.js";

const PAGE = 20;
const form = document.getElementById("filters");
const district = document.getElementById("district");
const street = document.getElementById("street");
const status = document.getElementById("status");
const list = document.getElementById("results");
const radius = document.getElementById("radius_km");
const pointInfo = document.getElementById("point-info");
const clearPoint = document.getElementById("clear-point");
const views = document.getElementById("views");
const showList = document.getElementById("show-list");
const showMap = document.getElementById("show-map");
const prev = document.getElementById("prev");
const next = document.getElementById("next");
const pageInfo = document.getElementById("page-info");

let base = [];
let shown = [];
let page = 1;
let point = null; // {lat, lng}: the centre of a distance search, or null
let cityMap = null;

const km = (n) => `${Number(n).toFixed(n < 10 ? 2 : 1)} 公里`;

function filtersFromUrl() {
  const params = new URL(window.location.href).searchParams;
  for (const name of ["q", "district", "street", "puhui", "service_type"]) {
    const value = params.get(name);
    if (value !== null) form.elements[name].value = value;
  }
  const near = (params.get("near") || "").split(",").map(Number);
  if (near.length === 2 && near.every(Number.isFinite) && districtAt(near[0], near[1])) {
    point = { lat: near[0], lng: near[1] };
  }
  if ([...radius.options].some((o) => o.value === params.get("radius_km"))) radius.value = params.get("radius_km");
}

function currentFilters() {
  const out = {};
  for (const name of ["q", "district", "street", "puhui", "service_type"]) {
    const value = form.elements[name].value.trim();
    if (value) out[name] = value;
  }
  return out;
}

function fillDistricts() {
  const seen = new Map();
  for (const i of base) seen.set(i.district.code, i.district.name);
  const wanted = new URL(window.location.href).searchParams.get("district") || district.value;
  district.replaceChildren(new Option("全部区", ""));
  for (const [code, name] of [...seen.entries()].sort()) district.append(new Option(name, code));
  district.value = seen.has(wanted) ? wanted : "";
}

function fillStreets() {
  const wanted = street.value || new URL(window.location.href).searchParams.get("street") || "";
  street.replaceChildren(new Option("全部街道（镇）", ""));
  if (!district.value) {
    street.disabled = true;
    return;
  }
  const seen = new Map();
  for (const i of base) if (i.district.code === district.value) seen.set(i.street.code, i.street.name);
  for (const [code, name] of [...seen.entries()].sort()) street.append(new Option(name, code));
  street.disabled = false;
  street.value = seen.has(wanted) ? wanted : "";
}

// a suspended institution offers no places: its filed capacity is shown only as such
const slotsLabel = (i) => (i.suspension ? "备案托位" : "托位");

function card(i) {
  const distance = i.distance_km !== undefined ? `<span class="badge distance">距离 ${km(i.distance_km)}</span>` : "";
  const inspection = i.latest_inspection
    ? `<span class="badge ${CONCLUSION_CLASS[i.latest_inspection.conclusion] || ""}">最近检查：${esc(i.latest_inspection.conclusion_zh)}（${fmt.date(i.latest_inspection.published_at)}）</span>`
    : '<span class="badge">尚无公开检查结果</span>';
  // 暂停收托 (a confirmed child-abuse case): listed only when asked for (include_suspended=true), marked
  // first, and no 普惠 places offered meanwhile
  const suspended = i.suspension ? `<span class="badge bad suspended">${esc(i.suspension.status_zh)}</span>` : "";
  const puhui = i.suspension && i.puhui_slots > 0
    ? '<span class="badge bad">普惠 暂停</span>'
    : i.puhui_suspension
      ? `<span class="badge bad">${esc(i.puhui_suspension.status_zh)}</span>`
      : i.puhui_slots > 0 ? `<span class="badge puhui">普惠托位 ${i.puhui_slots}</span>` : "";
  return `<li class="institution" data-id="${esc(i.id)}">
    <h3><a href="institution.html?id=${encodeURIComponent(i.id)}">${esc(i.name)}</a></h3>
    <p class="meta">${esc(i.district.name)} · ${esc(i.street.name)} · ${esc(i.operating_model_zh)} · ${esc(i.service_types_zh.join("、"))}</p>
    <p class="meta">${esc(i.address)}</p>
    <div class="badges">${suspended}${distance}<span class="badge">${slotsLabel(i)} ${i.total_slots}</span>${puhui}${gradeBadge(i.credit_grade)}${inspection}</div>
    <button type="button" class="link-button show-on-map" data-id="${esc(i.id)}">在地图上查看<span class="visually-hidden">：${esc(i.name)}</span></button>
  </li>`;
}

function popup(i) {
  const distance = i.distance_km !== undefined ? ` · 距离 ${km(i.distance_km)}` : "";
  return `<p class="popup-title"><a href="institution.html?id=${encodeURIComponent(i.id)}">${esc(i.name)}</a></p>
    <p class="meta">${esc(i.district.name)} · ${esc(i.street.name)}${distance}</p>
    <p class="meta">${i.suspension ? `${esc(i.suspension.status_zh)} · ` : ""}${slotsLabel(i)} ${i.total_slots}${i.puhui_slots > 0 && !i.suspension ? ` · 普惠托位 ${i.puhui_slots}` : ""}</p>`;
}

function render() {
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  page = Math.min(page, pages);
  list.innerHTML = shown.slice((page - 1) * PAGE, page * PAGE).map(card).join("");
  pageInfo.textContent = `第 ${page} / ${pages} 页`;
  prev.disabled = page <= 1;
  next.disabled = page >= pages;
  const filtered = Object.keys(currentFilters()).length > 0;
  if (point) {
    setStatus(status, `所选位置 ${radius.value} 公里内${filtered ? "符合条件的" : ""}已备案托育机构 ${shown.length} 家，由近到远排列`);
  } else {
    setStatus(status, `${filtered ? "符合条件的" : "共有"}已备案托育机构 ${shown.length} 家`);
  }
  document.getElementById("map-desc").textContent =
    `广州市11个区的边界和托育机构位置：全市 ${base.length} 家，地图上显示符合当前条件的 ${shown.length} 家（绿色为有普惠托位，圆圈内数字为该处机构数）。机构详情见列表；列表中每家机构都有“在地图上查看”按钮。`;
  cityMap?.setInstitutions(shown, popup);
}

function describePoint() {
  clearPoint.hidden = !point;
  if (!point) {
    pointInfo.textContent = "";
    return;
  }
  const district = districtAt(point.lat, point.lng);
  pointInfo.textContent = `所选位置：${district ? district.name : ""}（纬度 ${point.lat.toFixed(5)}，经度 ${point.lng.toFixed(5)}），半径 ${radius.value} 公里`;
}

async function search() {
  const filters = currentFilters();
  const query = { ...filters };
  if (point) {
    query.near = `${point.lat.toFixed(6)},${point.lng.toFixed(6)}`;
    query.radius_km = radius.value;
  }
  const url = new URL(window.location.href);
  url.search = new URLSearchParams(query).toString();
  window.history.replaceState(null, "", url);
  describePoint();
  cityMap?.setPoint(point, Number(radius.value));
  setStatus(status, "正在查询…");
  try {
    // a distance search comes back sorted by distance (the API's order is kept)
    shown = Object.keys(query).length ? await getAll("filing", "/v1/public/institutions", query) : base;
    page = 1;
    render();
  } catch (err) {
    setStatus(status, `查询失败：${err.message}`, true);
  }
}

function pick(lat, lng) {
  if (!districtAt(lat, lng)) {
    setStatus(status, "所选位置不在广州市范围内，请在市内选择。", true);
    return;
  }
  point = { lat, lng };
  search();
}

function setView(view) {
  views.dataset.view = view;
  showList.setAttribute("aria-pressed", String(view === "list"));
  showMap.setAttribute("aria-pressed", String(view === "map"));
  if (view === "map") cityMap?.resize();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
district.addEventListener("change", () => {
  street.value = "";
  fillStreets();
  if (!point) cityMap.showDistrict(district.value || null);
  search();
});
for (const name of ["street", "puhui", "service_type"]) form.elements[name].addEventListener("change", search);
prev.addEventListener("click", () => { page -= 1; render(); list.querySelector("a")?.focus(); });
next.addEventListener("click", () => { page += 1; render(); list.querySelector("a")?.focus(); });
radius.addEventListener("change", () => point && search());
clearPoint.addEventListener("click", () => {
  point = null;
  search();
});
document.getElementById("use-center").addEventListener("click", () => {
  setView("map");
  const c = cityMap.center();
  pick(c.lat, c.lng);
});
document.getElementById("locate").addEventListener("click", () => {
  if (!navigator.geolocation) {
    setStatus(status, "此浏览器不能提供您的位置，请在地图上点击选择。", true);
    return;
  }
  setStatus(status, "正在获取您的位置…");
  navigator.geolocation.getCurrentPosition(
    (position) => pick(position.coords.latitude, position.coords.longitude),
    () => setStatus(status, "未能获取您的位置（可能未允许定位），请在地图上点击选择。", true),
    { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 },
  );
});
showList.addEventListener("click", () => setView("list"));
showMap.addEventListener("click", () => setView("map"));
list.addEventListener("click", (event) => {
  const button = event.target.closest("button.show-on-map");
  if (!button) return;
  setView("map");
  cityMap.reveal(button.dataset.id);
});

async function start() {
  cityMap = new CityMap(document.getElementById("map"), {
    onPick: pick,
    tileLayers: (window.CHILDCARE_MAP && window.CHILDCARE_MAP.tileLayers) || [],
  });
  filtersFromUrl();
  try {
    base = await getAll("filing", "/v1/public/institutions");
  } catch (err) {
    setStatus(status, `加载失败：${err.message}`, true);
    return;
  }
  fillDistricts();
  fillStreets();
  filtersFromUrl();
  if (!point) cityMap.showDistrict(district.value || null);
  await search();
  document.body.dataset.ready = "true";
}

start();
