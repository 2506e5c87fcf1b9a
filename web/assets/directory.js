// 托育地图: the public directory with filters, a list and a map of the institutions' coordinates.
import { CONCLUSION_CLASS, esc, fmt, getAll, gradeBadge, setStatus } from "./common.js";
import { drawMap } from "./map.js";

const PAGE = 20;
const form = document.getElementById("filters");
const district = document.getElementById("district");
const street = document.getElementById("street");
const status = document.getElementById("status");
const list = document.getElementById("results");
const map = document.getElementById("map");
const prev = document.getElementById("prev");
const next = document.getElementById("next");
const pageInfo = document.getElementById("page-info");

let base = [];
let shown = [];
let page = 1;

function filtersFromUrl() {
  const params = new URL(window.location.href).searchParams;
  for (const name of ["district", "street", "puhui", "service_type"]) {
    const value = params.get(name);
    if (value !== null) form.elements[name].value = value;
  }
}

function currentFilters() {
  const out = {};
  for (const name of ["district", "street", "puhui", "service_type"]) {
    if (form.elements[name].value) out[name] = form.elements[name].value;
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

function card(i) {
  const inspection = i.latest_inspection
    ? `<span class="badge ${CONCLUSION_CLASS[i.latest_inspection.conclusion] || ""}">最近检查：${esc(i.latest_inspection.conclusion_zh)}（${fmt.date(i.latest_inspection.published_at)}）</span>`
    : '<span class="badge">尚无公开检查结果</span>';
  const puhui = i.puhui_slots > 0 ? `<span class="badge puhui">普惠托位 ${i.puhui_slots}</span>` : "";
  return `<li class="institution" data-id="${esc(i.id)}">
    <h3><a href="institution.html?id=${encodeURIComponent(i.id)}">${esc(i.name)}</a></h3>
    <p class="meta">${esc(i.district.name)} · ${esc(i.street.name)} · ${esc(i.operating_model_zh)} · ${esc(i.service_types_zh.join("、"))}</p>
    <p class="meta">${esc(i.address)}</p>
    <div class="badges"><span class="badge">托位 ${i.total_slots}</span>${puhui}${gradeBadge(i.credit_grade)}${inspection}</div>
  </li>`;
}

function render() {
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  page = Math.min(page, pages);
  list.innerHTML = shown.slice((page - 1) * PAGE, page * PAGE).map(card).join("");
  pageInfo.textContent = `第 ${page} / ${pages} 页`;
  prev.disabled = page <= 1;
  next.disabled = page >= pages;
  const filtered = Object.keys(currentFilters()).length > 0;
  setStatus(status, `${filtered ? "符合条件的" : "共有"}已备案托育机构 ${shown.length} 家`);
  document.getElementById("map-desc").textContent =
    `托育机构分布图：全市 ${base.length} 家，其中 ${shown.length} 家符合当前条件（绿色为有普惠托位）。机构详情见左侧列表。`;
  drawMap(map, base, shown, { onSelect: (i) => (window.location.href = `institution.html?id=${encodeURIComponent(i.id)}`) });
}

async function search() {
  const filters = currentFilters();
  const url = new URL(window.location.href);
  url.search = new URLSearchParams(filters).toString();
  window.history.replaceState(null, "", url);
  setStatus(status, "正在查询…");
  try {
    shown = Object.keys(filters).length ? await getAll("filing", "/v1/public/institutions", filters) : base;
    page = 1;
    render();
  } catch (err) {
    setStatus(status, `查询失败：${err.message}`, true);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
district.addEventListener("change", () => {
  street.value = "";
  fillStreets();
  search();
});
for (const name of ["street", "puhui", "service_type"]) form.elements[name].addEventListener("change", search);
prev.addEventListener("click", () => { page -= 1; render(); list.querySelector("a")?.focus(); });
next.addEventListener("click", () => { page += 1; render(); list.querySelector("a")?.focus(); });

async function start() {
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
  await search();
  document.body.dataset.ready = "true";
}

start();
