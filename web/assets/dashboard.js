// The planner's dashboard: per district and for the city, each figure beside its target, as ECharts
// charts (served from this platform, see vendor/) with every number in a table beside its chart.
//
// Source: the reporting service's public statistics, GET /v1/stats/districts?year= and
// GET /v1/stats/streets?year= (definitions: docs/statistics.md). Figures are shown exactly as the
// API gives them, nothing is recomputed here. Each table cell names its source (data-year,
// data-district, data-path), so a test can compare every figure with the API.
//
// The plan's annex sets targets for 2023–2025 only: for a later year the API's targets are null,
// and the dashboard sets each figure beside the plan's final (2025) target, read from the API's 2025
// statistics and labelled as such.
import { ApiError, esc, fmt, getJson, setStatus } from "./common.js";

const PLAN_END = 2025;
const GRADES = [["A", "A"], ["B", "B"], ["C", "C"], ["D", "D"], ["ungraded", "未评级"]];
const SEVERITIES = [["minor", "轻微"], ["general", "一般"], ["serious", "严重"], ["critical", "特别严重"]];
const COLORS = {
  value: "#0b6e4f", target: "#c5ccd3", second: "#1f5fbf",
  A: "#0b8a5a", B: "#1f5fbf", C: "#d08a00", D: "#b42318", ungraded: "#9aa4ae",
  minor: "#9fd5bb", general: "#f0c98a", serious: "#e0763c", critical: "#b42318",
};

const status = document.getElementById("status");
const form = document.getElementById("controls");
const yearSelect = document.getElementById("year");
const panels = document.getElementById("panels");
const charts = [];

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

function show(kind, v) {
  if (v === null || v === undefined) return "—";
  return kind === "int" ? fmt.int(v) : kind === "pct" ? fmt.pct(v) : fmt.num(v);
}

/** A table cell showing one API figure, naming where it came from. */
function cell(source, row, path, kind) {
  const v = get(row, path);
  return `<td class="num" data-source="${source.endpoint}" data-year="${source.year}" data-district="${esc(row ? row.code : "")}" data-path="${esc(path)}" data-value="${v === null || v === undefined ? "" : esc(v)}">${show(kind, v)}</td>`;
}

function chartOf(id, option, label) {
  const el = document.getElementById(`chart-${id}`);
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", label);
  const chart = window.echarts.init(el, null, { renderer: "svg" });
  chart.setOption({ animation: false, textStyle: { fontFamily: "inherit" }, tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, ...option });
  charts.push(chart);
}

function panel(id, title, def) {
  const section = document.createElement("section");
  section.className = "panel";
  section.id = `panel-${id}`;
  section.setAttribute("aria-labelledby", `h-${id}`);
  section.innerHTML = `<h2 id="h-${id}">${esc(title)}</h2><div class="chart" id="chart-${id}"></div>
    <div class="table-wrap" id="table-${id}"></div><p class="def">口径：${esc(def)}</p>`;
  panels.append(section);
}

function table(id, caption, headers, rows, city) {
  const head = headers.map((h, n) => `<th scope="col"${n ? ' class="num"' : ""}>${esc(h)}</th>`).join("");
  const body = rows.map((r) => `<tr><th scope="row">${esc(r.name)}</th>${r.cells}</tr>`).join("");
  document.getElementById(`table-${id}`).innerHTML = `<table><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead>
    <tbody>${body}<tr class="city-row"><th scope="row">全市</th>${city}</tr></tbody></table>`;
}

const axis = (rows) => ({ type: "category", data: rows.map((r) => r.name), axisLabel: { interval: 0, rotate: 40 } });
const grid = { left: 52, right: 12, top: 40, bottom: 60 };
const pctAxis = { type: "value", axisLabel: { formatter: "{value}%" } };
const pct = (v) => (v === null || v === undefined ? null : +(v * 100).toFixed(2));
const targetLine = (value, label) =>
  value === null || value === undefined
    ? undefined
    : { symbol: "none", lineStyle: { color: COLORS.D, type: "dashed" }, label: { formatter: label, position: "insideEndTop", color: COLORS.D }, data: [{ yAxis: value }] };

/** Which response a target comes from: the year's own, or the plan's final year when it has none. */
function targetSource(view, path) {
  const own = get(view.stats.city, path);
  if ((own === null || own === undefined) && view.planEnd) return view.planEnd;
  return view.stats;
}

function targetOf(source, code, path) {
  const row = source.byCode.get(code);
  return row ? get(row, path) : null;
}

function targetLabel(view, source) {
  return source === view.stats ? `${view.stats.year}年目标` : `${PLAN_END}年规划期末目标`;
}

function slotsPanel(view) {
  const { stats } = view;
  const src = targetSource(view, "slots.target");
  const rows = stats.districts;
  panel("slots", "备案托位与托位目标", "已备案（未注销）机构的托位之和；目标为行动计划附件中各区托位目标，全市为11区之和。");
  chartOf("slots", {
    legend: { top: 0 }, grid, xAxis: axis(rows), yAxis: { type: "value" },
    series: [
      { name: "备案托位", type: "bar", itemStyle: { color: COLORS.value }, data: rows.map((r) => r.slots.value) },
      { name: targetLabel(view, src), type: "bar", itemStyle: { color: COLORS.target }, data: rows.map((r) => targetOf(src, r.code, "slots.target")) },
    ],
  }, "备案托位与目标：各区柱状图，数字见旁边的表格");
  // progress is the year's own figure: shown only when the year has its own target
  const own = src === stats;
  const line = (r) => cell(stats, r, "slots.value", "int") + cell(src, src.byCode.get(r.code), "slots.target", "int") +
    (own ? cell(stats, r, "slots.progress", "pct") : "");
  table("slots", `备案托位（${stats.year}年）与${targetLabel(view, src)}`, ["区", "备案托位", "目标", ...(own ? ["完成率"] : [])],
    rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function ratioPanel(view, id, title, def, path, targetPath, kind, extra) {
  const { stats } = view;
  const src = targetPath ? targetSource(view, targetPath) : null;
  const rows = stats.districts;
  panel(id, title, def);
  const target = src ? get(src.city, targetPath) : null;
  const uniform = !src || rows.every((r) => targetOf(src, r.code, targetPath) === target);
  const scale = kind === "pct" ? pct : (v) => v;
  const series = [{
    name: title, type: "bar", itemStyle: { color: COLORS.value }, data: rows.map((r) => scale(get(r, path))),
    label: { show: true, position: "top", fontSize: 10, formatter: (p) => (p.value === null ? "" : kind === "pct" ? `${p.value}%` : p.value) },
    markLine: src && uniform ? targetLine(scale(target), `${targetLabel(view, src)} ${show(kind, target)}`) : undefined,
  }];
  if (!uniform) series.push({ name: targetLabel(view, src), type: "bar", itemStyle: { color: COLORS.target }, data: rows.map((r) => scale(targetOf(src, r.code, targetPath))) });
  chartOf(id, { legend: { top: 0 }, grid, xAxis: axis(rows), yAxis: kind === "pct" ? pctAxis : { type: "value" }, series },
    `${title}：各区柱状图，数字见旁边的表格`);
  const line = (r) => (extra ? extra.cells(r) : "") + cell(stats, r, path, kind) + (src ? cell(src, src.byCode.get(r.code), targetPath, kind) : "");
  const headers = ["区", ...(extra ? extra.headers : []), title, ...(src ? [targetLabel(view, src)] : [])];
  table(id, `${title}（${stats.year}年）`, headers, rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function stackPanel(view, id, title, def, group, parts) {
  const { stats } = view;
  const rows = stats.districts;
  panel(id, title, def);
  chartOf(id, {
    legend: { top: 0 }, grid, xAxis: axis(rows), yAxis: { type: "value" },
    series: parts.map(([key, label]) => ({ name: label, type: "bar", stack: id, itemStyle: { color: COLORS[key] }, data: rows.map((r) => r[group][key]) })),
  }, `${title}：各区堆叠柱状图，数字见旁边的表格`);
  const line = (r) => parts.map(([key]) => cell(stats, r, `${group}.${key}`, "int")).join("");
  table(id, `${title}（${stats.year}年）`, ["区", ...parts.map(([, label]) => label)], rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function streetsPanel(view) {
  const streets = view.streets;
  const rows = streets.districts;
  const src = streets.city.target === null && view.streetsPlanEnd ? view.streetsPlanEnd : streets;
  const label = src === streets ? `${streets.year}年目标` : `${PLAN_END}年规划期末目标`;
  panel("streets", "街镇覆盖：有普惠托育机构的街道（镇）", "至少有一家已备案普惠托育机构的街道（镇）÷ 全部街道（镇）；公建民营为其中由公建民营普惠机构覆盖的街镇。");
  chartOf("streets", {
    legend: { top: 0 }, grid, xAxis: axis(rows), yAxis: { ...pctAxis, max: 100 },
    series: [
      { name: "普惠覆盖", type: "bar", itemStyle: { color: COLORS.second }, data: rows.map((r) => pct(r.share)),
        markLine: targetLine(pct(src.city.target), `${label} ${show("pct", src.city.target)}`) },
      { name: "公建民营覆盖", type: "bar", itemStyle: { color: COLORS.value }, data: rows.map((r) => pct(r.public_private_share)) },
    ],
  }, "街镇覆盖：各区柱状图，数字见旁边的表格");
  const line = (r) => cell(streets, r, "covered", "int") + cell(streets, r, "streets", "int") + cell(streets, r, "share", "pct") +
    cell(streets, r, "public_private_share", "pct") + cell(src, src.byCode.get(r.code), "target", "pct");
  table("streets", `街镇覆盖（${streets.year}年）`, ["区", "已覆盖街镇", "街镇数", "覆盖率", "公建民营覆盖率", label],
    rows.map((r) => ({ name: r.name, cells: line(r) })), line(streets.city));
  if (streets.uncovered && streets.uncovered.length) {
    const list = streets.uncovered.map((s) => `${s.district_name}${s.name}`).join("、");
    document.getElementById("table-streets").insertAdjacentHTML("beforeend",
      `<details><summary>尚未覆盖的街道（镇）${streets.uncovered.length} 个</summary><p>${esc(list)}</p></details>`);
  }
}

function kpis(view) {
  const city = view.stats.city;
  const item = (label, path, kind, targetPath) => {
    const src = targetPath ? targetSource(view, targetPath) : null;
    const v = get(city, path);
    const t = src ? get(src.city, targetPath) : null;
    const below = t !== null && t !== undefined && v !== null && v !== undefined && v < t;
    const tl = src ? `${targetLabel(view, src)} ${show(kind, t)}` : "";
    return `<div class="kpi${below ? " below" : ""}" data-path="${esc(path)}"><div class="label">${esc(label)}</div>
      <div class="value">${show(kind, v)}</div><div class="target">${esc(tl)}</div></div>`;
  };
  let html = [
    item("备案机构", "institutions", "int"),
    item("备案托位", "slots.value", "int", "slots.target"),
    item("每千人口托位", "slots_per_1000.value", "num", "slots_per_1000.target"),
    item("普惠托位占比", "puhui.share", "pct", "puhui.target"),
    item(`年报完成率（${city.annual_reports.report_year}年度）`, "annual_reports.completion_rate", "pct", "annual_reports.target"),
    item("从业人员持证率", "staff.certified_rate", "pct"),
    item("抽查覆盖率", "inspections.coverage", "pct"),
  ].join("");
  if (view.streets) {
    const s = view.streets.city;
    html += `<div class="kpi" data-path="streets.share"><div class="label">街镇普惠覆盖</div><div class="value">${show("pct", s.share)}</div>
      <div class="target">${s.covered} / ${s.streets} 个街镇</div></div>`;
  }
  document.getElementById("kpis").innerHTML = html;
  document.getElementById("city").hidden = false;
}

function indexed(stats, endpoint) {
  if (!stats) return null;
  stats.endpoint = endpoint;
  stats.byCode = new Map([...stats.districts, stats.city].map((r) => [r.code, r]));
  return stats;
}

async function load() {
  const year = Number(yearSelect.value);
  setStatus(status, "正在加载统计…");
  charts.splice(0).forEach((c) => c.dispose());
  panels.replaceChildren();
  const view = {};
  try {
    view.stats = indexed(await getJson("reporting", "/v1/stats/districts", { year }), "districts");
    view.streets = indexed(await getJson("reporting", "/v1/stats/streets", { year }).catch(() => null), "streets");
    if (year > PLAN_END) {
      view.planEnd = indexed(await getJson("reporting", "/v1/stats/districts", { year: PLAN_END }), "districts");
      view.streetsPlanEnd = view.streets ? indexed(await getJson("reporting", "/v1/stats/streets", { year: PLAN_END }), "streets") : null;
    }
  } catch (err) {
    setStatus(status, err instanceof ApiError && err.status === 404
      ? "统计接口（共享台账服务 /v1/stats/districts）暂未提供。"
      : `加载失败：${err.message}`, true);
    document.body.dataset.ready = "error";
    return;
  }
  kpis(view);
  slotsPanel(view);
  ratioPanel(view, "slots_per_1000", "每千人口托位数", "备案托位 × 1000 ÷ 常住人口（2023年末）。", "slots_per_1000.value", "slots_per_1000.target", "num",
    { headers: ["常住人口"], cells: (r) => cell(view.stats, r, "slots_per_1000.residents", "int") });
  ratioPanel(view, "puhui", "普惠托位占比", "普惠托位 ÷ 备案托位；目标不低于30%。", "puhui.share", "puhui.target", "pct",
    { headers: ["普惠托位"], cells: (r) => cell(view.stats, r, "puhui.slots", "int") });
  const ry = view.stats.city.annual_reports.report_year;
  ratioPanel(view, "annual_reports", "年报完成率", `${ry}年度年报（${ry + 1}年3月31日前报送）：已报送 ÷ 应报送（${ry}年末前备案的机构）。`,
    "annual_reports.completion_rate", "annual_reports.target", "pct",
    { headers: ["应报", "已报"], cells: (r) => cell(view.stats, r, "annual_reports.expected", "int") + cell(view.stats, r, "annual_reports.submitted", "int") });
  ratioPanel(view, "staff", "从业人员持证率", "持有未过期证书的在岗人员 ÷ 在岗人员（统计日在岗）。", "staff.certified_rate", null, "pct",
    { headers: ["在岗人员", "持证"], cells: (r) => cell(view.stats, r, "staff.active", "int") + cell(view.stats, r, "staff.certified", "int") });
  ratioPanel(view, "inspections", "检查覆盖率", "本年度有公开检查结果的已备案机构 ÷ 已备案机构。", "inspections.coverage", null, "pct",
    { headers: ["已备案", "已检查"], cells: (r) => cell(view.stats, r, "inspections.filed_institutions", "int") + cell(view.stats, r, "inspections.inspected", "int") });
  stackPanel(view, "grades", "信用等级构成", "已备案机构在年末（本年为今天）执行的信用等级；A 信用风险低 — D 信用风险高。", "credit_grades", GRADES);
  stackPanel(view, "violations", "已确认违规（按严重程度）", "本年度经审核确认的违规，按严重程度计数。", "violations", SEVERITIES);
  if (view.streets) streetsPanel(view);
  setStatus(status, `${view.stats.year} 年度 · 统计日 ${fmt.date(view.stats.as_of)} · ${view.stats.districts.length} 个区`);
  document.body.dataset.ready = "true";
}

function start() {
  const now = new Date().getFullYear();
  for (let y = now; y >= 2023; y -= 1) yearSelect.append(new Option(`${y} 年`, String(y)));
  const wanted = new URL(window.location.href).searchParams.get("year");
  if (wanted) yearSelect.value = wanted;
  if (!window.echarts) {
    setStatus(status, "图表库未安装（web/vendor/）：请运行 ./dev run，或 cd web && npm ci && npm run vendor。", true);
    return;
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  yearSelect.addEventListener("change", load);
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  load();
}

start();
