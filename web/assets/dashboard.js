// The planner's dashboard: per district and for the city, each figure beside its target, as ECharts
// charts (served from this platform, see vendor/) with every number in a table beside its chart.
//
// Source: the reporting service's public statistics, GET /v1/stats/districts?year=,
// GET /v1/stats/streets?year= and GET /v1/stats/progress (definitions: docs/statistics.md). Figures
// are shown exactly as the API gives them, nothing is recomputed here, and every name of a figure is
// the API's own Chinese label (`labels` in each answer). Each number names its source (data-source,
// data-year, data-district, data-path), so a test can compare every figure with the API.
//
// Year semantics: the figures of year Y are the state at the end of Y (filed institutions, slots,
// grades), what happened in Y (inspections, violations, decisions, cases, complaints) and the 年报 of
// Y, which are filed by 31 March of Y+1. The plan sets targets for 2023–2025 only: for a later year the
// API's targets are null, and the dashboard sets each figure beside the plan's final (2025) target,
// read from the API's 2025 statistics and labelled as such.
//
// ECharts parts used (web/vendor.mjs builds only these): bar and line series, grid, legend, axis
// tooltip, markLine, SVG renderer.
import { ApiError, esc, fmt, getJson, setStatus } from "./common.js";

const PLAN_END = 2025;
const CITY = "440100";
const GRADES = ["A", "B", "C", "D", "ungraded"];
const QUALITY_GRADES = ["A", "B", "C", "D"];
const SEVERITIES = ["minor", "general", "serious", "critical"];
const CATEGORIES = ["safety", "abuse", "hygiene_food", "staffing", "fees", "unlicensed", "other"];
const ACTIONS = ["targeted_inspection", "referral", "close", "open_unlicensed_case"];
const COLORS = {
  value: "#0b6e4f", target: "#c5ccd3", second: "#1f5fbf", line: "#b42318",
  A: "#0b8a5a", B: "#1f5fbf", C: "#d08a00", D: "#b42318", ungraded: "#9aa4ae",
  minor: "#9fd5bb", general: "#f0c98a", serious: "#e0763c", critical: "#b42318",
};
// a phone draws the districts down the side, so their names never overlap
const NARROW = 600;

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

/** The attributes naming where a shown number comes from. */
function sourceAttrs(source, year, code, path, v) {
  return `data-source="${source}" data-year="${year}" data-district="${esc(code)}" data-path="${esc(path)}" data-value="${v === null || v === undefined ? "" : esc(v)}"`;
}

/** A table cell showing one figure of an answer (districts or streets), naming where it came from. */
function cell(source, row, path, kind) {
  const v = row ? get(row, path) : undefined;
  return `<td class="num" ${sourceAttrs(source.endpoint, source.year, row ? row.code : "", path, v)}>${show(kind, v)}</td>`;
}

/** A table cell of the progress answer: one area's figure of one year. */
function progressCell(area, entry, path, kind) {
  const v = get(entry, path);
  return `<td class="num" ${sourceAttrs("progress", entry.year, area.code, path, v)}>${show(kind, v)}</td>`;
}

/** A column header named by the API's label of the figure (plus a qualifier, e.g. which year's target). */
function th(labels, path, suffix = "") {
  return `<th scope="col" class="num" data-label="${esc(path)}">${esc(labels[path] || path)}${esc(suffix)}</th>`;
}

function narrow(el) {
  return el.clientWidth < NARROW;
}

// Drawing a chart costs a phone's CPU (≈ 40 ms each with Lighthouse's 4x slowdown; all fifteen in one
// task blocked the page for ≈ 670 ms): each chart is drawn in a task of its own, and only when its panel
// comes near the screen. Its room is reserved by the style sheet, so nothing moves when it is drawn;
// every number is in the table beside it from the start. A drawn chart's element says so (data-drawn).
const pending = new Map(); // chart element → its option, until it is near the screen
const drawQueue = [];
let draining = false;
const nearScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting || !pending.has(entry.target)) continue;
    nearScreen.unobserve(entry.target);
    drawQueue.push(entry.target);
  }
  drainDrawQueue();
}, { rootMargin: "200px" });

/** Lets the browser paint and answer input before the next piece of work. */
function nextTask() {
  if (window.scheduler && typeof window.scheduler.yield === "function") return window.scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve));
}

async function drainDrawQueue() {
  if (draining) return;
  draining = true;
  try {
    while (drawQueue.length) {
      await nextTask();
      const el = drawQueue.shift();
      const option = pending.get(el);
      if (!option) continue; // the year changed meanwhile: its chart is queued again with the new figures
      pending.delete(el);
      draw(el, option);
    }
  } finally {
    draining = false;
  }
}

function draw(el, option) {
  const chart = window.echarts.init(el, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    // the page's own fonts, named: ECharts measures text with the family it is given (legends, labels)
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    ...option,
  });
  charts.push(chart);
  el.dataset.drawn = "true";
}

function chartOf(id, option, label) {
  const el = document.getElementById(`chart-${id}`);
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", label);
  pending.set(el, option);
  nearScreen.observe(el);
}

/** Forgets the charts of the year shown before (drawn or still waiting for the screen). */
function clearCharts() {
  nearScreen.disconnect();
  pending.clear();
  drawQueue.length = 0;
  charts.splice(0).forEach((c) => {
    delete c.getDom().dataset.drawn;
    c.dispose();
  });
}

/** Bars per category (districts), upright on a wide screen and lying down on a phone. */
function barOption(id, names, series, valueAxis) {
  const el = document.getElementById(`chart-${id}`);
  const category = { type: "category", data: names };
  el.dataset.orientation = narrow(el) ? "horizontal" : "vertical";
  if (narrow(el)) {
    return {
      legend: { top: 0, type: "plain" },
      grid: { left: 8, right: 24, top: 48, bottom: 8, containLabel: true },
      yAxis: { ...category, inverse: true, axisLabel: { interval: 0 } },
      xAxis: { ...valueAxis, axisLabel: { ...(valueAxis.axisLabel || {}), hideOverlap: true } },
      series: series.map((s) => ({ ...s, label: s.label ? { ...s.label, position: "right" } : undefined,
        markLine: s.markLine ? { ...s.markLine, data: s.markLine.data.map((d) => ({ xAxis: d.yAxis })) } : undefined })),
    };
  }
  return {
    legend: { top: 0 },
    grid: { left: 8, right: 12, top: 40, bottom: 8, containLabel: true },
    xAxis: { ...category, axisLabel: { interval: 0, rotate: names.length > 6 ? 40 : 0 } },
    yAxis: valueAxis,
    series,
  };
}

/** A value axis reaching at least ``target`` (so the target line is drawn even far above the figures). */
function reaching(axis, target) {
  return target === null || target === undefined ? axis : { ...axis, max: (extent) => Math.max(extent.max, target) };
}

/** The panel's section (in the page from the start, so nothing moves when the data arrives). */
function panel(id, title, def) {
  let section = document.getElementById(`panel-${id}`);
  if (!section) {
    section = document.createElement("section");
    section.className = "panel";
    section.id = `panel-${id}`;
    section.setAttribute("aria-labelledby", `h-${id}`);
    section.innerHTML = `<h2 id="h-${id}"></h2><div class="chart" id="chart-${id}"></div><div class="table-wrap" id="table-${id}" tabindex="0" role="region" aria-labelledby="h-${id}"></div><p class="def"></p>`;
    panels.append(section);
  }
  section.querySelector("h2").textContent = title;
  section.querySelector(".def").textContent = `口径：${def}`;
  return section;
}

function table(id, caption, headers, rows, city) {
  const body = rows.map((r) => `<tr><th scope="row">${esc(r.name)}</th>${r.cells}</tr>`).join("");
  const cityRow = city === null ? "" : `<tr class="city-row"><th scope="row">全市</th>${city}</tr>`;
  document.getElementById(`table-${id}`).innerHTML = `<table><caption>${esc(caption)}</caption><thead><tr><th scope="col">${esc(headers[0])}</th>${headers.slice(1).join("")}</tr></thead>
    <tbody>${body}${cityRow}</tbody></table>`;
}

const pctAxis = { type: "value", axisLabel: { formatter: "{value}%" } };
const pct = (v) => (v === null || v === undefined ? null : +(v * 100).toFixed(2));
const targetLine = (value, label) =>
  value === null || value === undefined
    ? undefined
    : { symbol: "none", lineStyle: { color: COLORS.line, type: "dashed" }, label: { formatter: label, position: "insideEndTop", color: COLORS.line }, data: [{ yAxis: value }] };

/** Which answer a target comes from: the year's own, or the plan's final year when it has none. */
function targetSource(view, path, own = view.stats, planEnd = view.planEnd) {
  const v = get(own.city, path);
  if ((v === null || v === undefined) && planEnd) return planEnd;
  return own;
}

function targetOf(source, code, path) {
  const row = source.byCode.get(code);
  return row ? get(row, path) : null;
}

function targetSuffix(own, source) {
  return source === own ? `（${own.year}年）` : `（${PLAN_END}年规划期末）`;
}

// --- the city at a glance -------------------------------------------------------------------------

function kpis(view) {
  const { stats, streets } = view;
  const city = stats.city;
  const item = (answer, label, path, kind, targetPath) => {
    const src = targetPath ? targetSource(view, targetPath, answer, answer === streets ? view.streetsPlanEnd : view.planEnd) : null;
    const row = answer.city;
    const v = get(row, path);
    const t = src ? get(src.city, targetPath) : null;
    const below = t !== null && t !== undefined && v !== null && v !== undefined && v < t;
    const target = src && t !== null && t !== undefined
      ? `<span ${sourceAttrs(src.endpoint, src.year, CITY, targetPath, t)}>目标${targetSuffix(answer, src)} ${show(kind, t)}</span>`
      : "";
    return `<div class="kpi${below ? " below" : ""}" data-path="${esc(path)}"><div class="label" data-label="${esc(path)}">${esc(label)}</div>
      <div class="value" ${sourceAttrs(answer.endpoint, answer.year, CITY, path, v)}>${show(kind, v)}</div><div class="target">${target}</div></div>`;
  };
  const L = stats.labels;
  const S = streets ? streets.labels : {};
  let html = [
    item(stats, L["institutions"], "institutions", "int"),
    item(stats, L["slots.value"], "slots.value", "int", "slots.target"),
    item(stats, L["slots_per_1000.value"], "slots_per_1000.value", "num", "slots_per_1000.target"),
    item(stats, L["puhui.share"], "puhui.share", "pct", "puhui.target"),
    item(stats, `${L["annual_reports.completion_rate"]}（${city.annual_reports.report_year}年度年报）`, "annual_reports.completion_rate", "pct", "annual_reports.target"),
    item(stats, L["staff.certified_rate"], "staff.certified_rate", "pct"),
    item(stats, L["inspections.coverage"], "inspections.coverage", "pct"),
    item(stats, L["filing_decisions.pass_rate"], "filing_decisions.pass_rate", "pct"),
    item(stats, L["quality_assessment.share"], "quality_assessment.share", "pct"),
    item(stats, L["unlicensed_cases.open"], "unlicensed_cases.open", "int"),
    item(stats, L["complaints.received"], "complaints.received", "int"),
  ].join("");
  if (streets) {
    html += item(streets, S["share"], "share", "pct", "target");
    html += item(streets, S["public_private_share"], "public_private_share", "pct", "public_private_target");
  }
  document.getElementById("kpis").innerHTML = html;
}

// --- progress by year (the 2022 baseline, each year's figure and target) ---------------------------

function progressPanel(view) {
  const { progress } = view;
  const L = progress.labels;
  const city = progress.city;
  // every year's slots per 1,000 divide by the annex's 2023 population (the API's label of residents)
  const per1000Basis = `按${L["slots_per_1000.residents"]}计算`;
  panel("progress", "规划进展：2022年基数、各年度备案托位与目标",
    `2022年已有托位为行动计划附件（2022年12月各区卫生健康局统计）；各年度为该年末已备案（未注销）机构的托位，与该年度附件目标对照；2025年后无年度目标。各年度${L["slots_per_1000.value"]}均${per1000Basis}（附件人口数据），不随年度更新；${L["slots_per_1000.target"]}与${L["puhui.target"]}为全市目标。`);
  const baseline = city.years.length ? city.years[0].slots.baseline_2022 : null;
  const names = [`${progress.baseline_year}年（基数）`, ...city.years.map((y) => `${y.year}年`)];
  chartOf("progress", barOption("progress", names, [
    { name: L["slots.value"], type: "bar", itemStyle: { color: COLORS.value },
      data: [baseline, ...city.years.map((y) => y.slots.value)] },
    { name: L["slots.target"], type: "line", symbolSize: 8, itemStyle: { color: COLORS.line }, lineStyle: { type: "dashed" },
      data: [null, ...city.years.map((y) => y.slots.target)] },
  ], { type: "value" }), "全市备案托位按年度与目标：柱状图与折线，数字见旁边的表格");
  const head = ["年度", th(L, "slots.value"), th(L, "slots.target"), th(L, "slots.progress"), th(L, "slots.gap"),
    th(L, "slots_per_1000.value", `（${per1000Basis}）`), th(L, "slots_per_1000.target"), th(L, "puhui.share"), th(L, "puhui.target")];
  const first = city.years[0];
  const baseRow = first
    ? `<tr><th scope="row">${progress.baseline_year}年（基数）</th>${progressCell(city, first, "slots.baseline_2022", "int")}<td colspan="7">附件：2022年已有托位；${esc(L["slots.planned_2025"])} <span ${sourceAttrs("progress", first.year, city.code, "slots.planned_2025", first.slots.planned_2025)}>${show("int", first.slots.planned_2025)}</span></td></tr>`
    : "";
  const rows = city.years.map((y) => `<tr><th scope="row">${y.year}年</th>${progressCell(city, y, "slots.value", "int")}${progressCell(city, y, "slots.target", "int")}${progressCell(city, y, "slots.progress", "pct")}${progressCell(city, y, "slots.gap", "int")}${progressCell(city, y, "slots_per_1000.value", "num")}${progressCell(city, y, "slots_per_1000.target", "num")}${progressCell(city, y, "puhui.share", "pct")}${progressCell(city, y, "puhui.target", "pct")}</tr>`).join("");
  const el = document.getElementById("table-progress");
  el.innerHTML = `<table><caption>全市：按年度</caption><thead><tr><th scope="col">${head[0]}</th>${head.slice(1).join("")}</tr></thead><tbody>${baseRow}${rows}</tbody></table>`;
  // every district, year by year: filed slots beside the year's target
  const yearHead = city.years.map((y) => `<th scope="col" class="num">${y.year}年${esc(L["slots.value"])}</th><th scope="col" class="num">${y.year}年${esc(L["slots.target"])}</th>`).join("");
  const districtRow = (a) => `<tr><th scope="row">${esc(a.name)}</th>${a.years.length ? progressCell(a, a.years[0], "slots.baseline_2022", "int") : "<td></td>"}${a.years.map((y) => progressCell(a, y, "slots.value", "int") + progressCell(a, y, "slots.target", "int")).join("")}</tr>`;
  el.insertAdjacentHTML("beforeend", `<details><summary>各区按年度（${esc(L["slots.baseline_2022"])}与各年度${esc(L["slots.value"])}、${esc(L["slots.target"])}）</summary>
    <div class="table-wrap" tabindex="0" role="region" aria-label="表格（可横向滚动）"><table><caption>各区备案托位按年度</caption><thead><tr><th scope="col">区</th>${th(L, "slots.baseline_2022")}${yearHead}</tr></thead>
    <tbody>${progress.districts.map(districtRow).join("")}${districtRow({ ...city, name: "全市" })}</tbody></table></div></details>`);
}

// --- per district ---------------------------------------------------------------------------------

function slotsPanel(view) {
  const { stats } = view;
  const L = stats.labels;
  const src = targetSource(view, "slots.target");
  const own = src === stats;
  const rows = stats.districts;
  panel("slots", "备案托位与托位目标（附件分区指标）", `已备案（未注销）机构在${stats.year}年末的托位之和；目标为行动计划附件《各区分年度托位指标分解表》中该区该年度的托位数，全市为11区之和；${L["slots.gap"]} = 目标 − 备案托位（已达到为0）；${L["slots.to_add_2025"]} = 2025年规划托位 − 备案托位。`);
  chartOf("slots", barOption("slots", rows.map((r) => r.name), [
    { name: L["slots.value"], type: "bar", itemStyle: { color: COLORS.value }, data: rows.map((r) => r.slots.value) },
    { name: L["slots.target"], type: "bar", itemStyle: { color: COLORS.target }, data: rows.map((r) => targetOf(src, r.code, "slots.target")) },
    { name: L["slots.baseline_2022"], type: "bar", itemStyle: { color: "#9fb7cf" }, data: rows.map((r) => r.slots.baseline_2022) },
  ], { type: "value" }), "备案托位、目标与2022年基数：各区柱状图，数字见旁边的表格");
  // progress and gap are the year's own figures: shown only when the year has its own target
  const line = (r) => cell(stats, r, "slots.value", "int") + cell(src, src.byCode.get(r.code), "slots.target", "int") +
    (own ? cell(stats, r, "slots.progress", "pct") + cell(stats, r, "slots.gap", "int") : "") +
    cell(stats, r, "slots.baseline_2022", "int") + cell(stats, r, "slots.planned_2025", "int") + cell(stats, r, "slots.to_add_2025", "int");
  const headers = ["区", th(L, "slots.value"), th(L, "slots.target", targetSuffix(stats, src)),
    ...(own ? [th(L, "slots.progress"), th(L, "slots.gap")] : []), th(L, "slots.baseline_2022"), th(L, "slots.planned_2025"), th(L, "slots.to_add_2025")];
  table("slots", `${L["slots.value"]}（${stats.year}年末）与目标`, headers, rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function ratioPanel(view, id, title, def, path, targetPath, kind, extra) {
  const { stats } = view;
  const L = stats.labels;
  const src = targetPath ? targetSource(view, targetPath) : null;
  const rows = stats.districts;
  panel(id, title, def);
  const target = src ? get(src.city, targetPath) : null;
  // a city-wide target (千人口托位, 普惠 share): the districts have none, so no line or bar is drawn
  // against them; the table shows it in the city's row
  const cityOnly = !!src && rows.every((r) => { const t = targetOf(src, r.code, targetPath); return t === null || t === undefined; });
  const uniform = !src || cityOnly || rows.every((r) => targetOf(src, r.code, targetPath) === target);
  const scale = kind === "pct" ? pct : (v) => v;
  const series = [{
    name: L[path], type: "bar", itemStyle: { color: COLORS.value }, data: rows.map((r) => scale(get(r, path))),
    label: { show: true, position: "top", fontSize: 10, formatter: (p) => (p.value === null || p.value === undefined ? "" : kind === "pct" ? `${p.value}%` : p.value) },
    markLine: src && uniform && !cityOnly ? targetLine(scale(target), `目标 ${show(kind, target)}`) : undefined,
  }];
  if (!uniform) series.push({ name: `${L[targetPath]}${targetSuffix(stats, src)}`, type: "bar", itemStyle: { color: COLORS.target }, data: rows.map((r) => scale(targetOf(src, r.code, targetPath))) });
  const highest = Math.max(...rows.map((r) => scale(targetOf(src || stats, r.code, targetPath || path)) ?? 0));
  const valueAxis = reaching(kind === "pct" ? pctAxis : { type: "value" }, src && !cityOnly ? highest : null);
  chartOf(id, barOption(id, rows.map((r) => r.name), series, valueAxis), `${title}：各区柱状图，数字见旁边的表格`);
  const line = (r) => (extra ? extra.map((p) => cell(stats, r, p[0], p[1])).join("") : "") + cell(stats, r, path, kind) + (src ? cell(src, src.byCode.get(r.code), targetPath, kind) : "");
  const headers = ["区", ...(extra ? extra.map((p) => th(L, p[0])) : []), th(L, path), ...(src ? [th(L, targetPath, targetSuffix(stats, src))] : [])];
  table(id, `${title}（${stats.year}年）`, headers, rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function stackPanel(view, id, title, def, group, parts) {
  const { stats } = view;
  const L = stats.labels;
  const rows = stats.districts;
  panel(id, title, def);
  chartOf(id, barOption(id, rows.map((r) => r.name),
    parts.map((key) => ({ name: L[`${group}.${key}`], type: "bar", stack: id, itemStyle: { color: COLORS[key] }, data: rows.map((r) => get(r, `${group}.${key}`)) })),
    { type: "value", minInterval: 1 }), `${title}：各区堆叠柱状图，数字见旁边的表格`);
  const line = (r) => parts.map((key) => cell(stats, r, `${group}.${key}`, "int")).join("");
  table(id, `${title}（${stats.year}年）`, ["区", ...parts.map((key) => th(L, `${group}.${key}`))], rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function countsPanel(view, id, title, def, paths) {
  const { stats } = view;
  const L = stats.labels;
  const rows = stats.districts;
  panel(id, title, def);
  chartOf(id, barOption(id, rows.map((r) => r.name),
    paths.map((p, n) => ({ name: L[p], type: "bar", itemStyle: { color: [COLORS.second, COLORS.C, COLORS.value, COLORS.D][n % 4] }, data: rows.map((r) => get(r, p)) })),
    { type: "value", minInterval: 1 }), `${title}：各区柱状图，数字见旁边的表格`);
  const line = (r) => paths.map((p) => cell(stats, r, p, "int")).join("");
  table(id, `${title}（${stats.year}年）`, ["区", ...paths.map((p) => th(L, p))], rows.map((r) => ({ name: r.name, cells: line(r) })), line(stats.city));
}

function complaintsPanel(view) {
  const { stats } = view;
  const L = stats.labels;
  countsPanel(view, "complaints", "投诉受理与分办", `${stats.year}年收到的投诉（按投诉所在区）、${stats.year}年内分办的投诉，以及${stats.year}年末尚未分办的投诉；不含投诉人的任何信息。`,
    ["complaints.received", "complaints.triaged", "complaints.untriaged"]);
  const city = stats.city;
  const group = (prefix, keys) => `<tr>${keys.map((k) => th(L, `complaints.${prefix}.${k}`)).join("")}</tr><tr>${keys.map((k) => cell(stats, city, `complaints.${prefix}.${k}`, "int")).join("")}</tr>`;
  document.getElementById("table-complaints").insertAdjacentHTML("beforeend",
    `<div class="table-wrap" tabindex="0" role="region" aria-label="表格（可横向滚动）"><table><caption>全市${esc(L["complaints.received"])}（按类别）</caption><tbody>${group("by_category", CATEGORIES)}</tbody></table></div>
     <div class="table-wrap" tabindex="0" role="region" aria-label="表格（可横向滚动）"><table><caption>全市${esc(L["complaints.triaged"])}（按处理方式）</caption><tbody>${group("by_action", ACTIONS)}</tbody></table></div>`);
}

function modelsPanel(view) {
  const { stats } = view;
  const L = stats.labels;
  const models = stats.city.operating_models;
  const employer = models.findIndex((m) => m.model === "employer");
  const src = targetSource(view, `operating_models.${employer}.added_institutions_target`);
  panel("models", "按办托模式：机构、托位与规划目标",
    `已备案（未注销）机构在${stats.year}年末按办托模式计数；“${L["operating_models.added_institutions"]}”为2023年1月1日起在本平台备案的机构，用作行动计划“新增”（附件以2022年底为基数）的近似：平台未记录机构的成立日期，2023年前已开办、2023年起才在平台备案的机构也计入，故偏多。目标：用人单位办托新增机构全市11个（2023）、55个（2024，每区至少5个）、110个（2025，每区至少10个），新增托位6600个（2025）；幼儿园托班500个（2023）、700个以上（2024）、1000个以上（2025），托班托位2万个以上（2025）；班数为机构备案的班级数。公建民营的目标为街镇覆盖率，见“街镇覆盖”。`);
  const targetCell = (path) => {
    const row = src.city;
    const v = get(row, path);
    return v === null || v === undefined ? `<td class="num">—</td>` : cell(src, row, path, "int");
  };
  const modelRow = (m, n) => `<tr><th scope="row">${esc(m.label)}</th>${cell(stats, stats.city, `operating_models.${n}.institutions`, "int")}${cell(stats, stats.city, `operating_models.${n}.slots`, "int")}${cell(stats, stats.city, `operating_models.${n}.puhui_slots`, "int")}${cell(stats, stats.city, `operating_models.${n}.added_institutions`, "int")}${targetCell(`operating_models.${n}.added_institutions_target`)}${cell(stats, stats.city, `operating_models.${n}.added_slots`, "int")}${targetCell(`operating_models.${n}.added_slots_target`)}${targetCell(`operating_models.${n}.slots_target`)}${cell(stats, stats.city, `operating_models.${n}.classes`, "int")}${targetCell(`operating_models.${n}.classes_target`)}</tr>`;
  const suffix = targetSuffix(stats, src);
  const heads = ["operating_models.institutions", "operating_models.slots", "operating_models.puhui_slots", "operating_models.added_institutions"]
    .map((p) => th(L, p)).join("") + th(L, "operating_models.added_institutions_target", suffix) + th(L, "operating_models.added_slots") +
    th(L, "operating_models.added_slots_target", suffix) + th(L, "operating_models.slots_target", suffix) +
    th(L, "operating_models.classes") + th(L, "operating_models.classes_target", suffix);
  // the chart: the employer model per district, added institutions against the district's target
  const rows = stats.districts;
  const perDistrict = `operating_models.${employer}.added_institutions_target`;
  const districtTarget = targetOf(src, rows[0].code, perDistrict);
  chartOf("models", barOption("models", rows.map((r) => r.name), [{
    name: `用人单位办托：${L["operating_models.added_institutions"]}`, type: "bar", itemStyle: { color: COLORS.value },
    data: rows.map((r) => get(r, `operating_models.${employer}.added_institutions`)),
    label: { show: true, position: "top", fontSize: 10 },
    markLine: targetLine(districtTarget, `每区目标 ${show("int", districtTarget)}`),
  }], reaching({ type: "value", minInterval: 1 }, districtTarget)), `用人单位办托${L["operating_models.added_institutions"]}：各区柱状图与每区新增目标，数字见旁边的表格`);
  const el = document.getElementById("table-models");
  el.innerHTML = `<table><caption>全市按办托模式（${stats.year}年末）</caption><thead><tr><th scope="col">办托模式</th>${heads}</tr></thead><tbody>${models.map(modelRow).join("")}</tbody></table>`;
  const line = (r) => cell(stats, r, `operating_models.${employer}.added_institutions`, "int") + cell(src, src.byCode.get(r.code), perDistrict, "int") +
    cell(stats, r, `operating_models.${employer}.added_slots`, "int");
  el.insertAdjacentHTML("beforeend", `<div class="table-wrap" tabindex="0" role="region" aria-label="表格（可横向滚动）"><table><caption>用人单位办托，各区</caption><thead><tr><th scope="col">区</th>${th(L, "operating_models.added_institutions")}${th(L, "operating_models.added_institutions_target", suffix)}${th(L, "operating_models.added_slots")}</tr></thead>
    <tbody>${rows.map((r) => `<tr><th scope="row">${esc(r.name)}</th>${line(r)}</tr>`).join("")}<tr class="city-row"><th scope="row">全市</th>${line(stats.city)}</tr></tbody></table></div>`);
}

function streetsPanel(view) {
  const streets = view.streets;
  const L = streets.labels;
  const rows = streets.districts;
  const src = targetSource(view, "target", streets, view.streetsPlanEnd);
  const ppSrc = targetSource(view, "public_private_target", streets, view.streetsPlanEnd);
  panel("streets", "街镇覆盖：普惠与公建民营普惠托育机构", `${L["share"]}：至少有一家已备案普惠托育机构的街道（镇）÷ 全部街道（镇），目标为2023年20%（行动计划2023年目标），2025年100%（由公建民营100%覆盖推出）；${L["public_private_share"]}：其中由公建民营普惠机构覆盖的街镇，目标2024年70%、2025年100%。`);
  const ppTarget = ppSrc.city.public_private_target;
  const target = src.city.target;
  // one line when both targets are the same (2025: 100 %), so their labels are not drawn over each other
  const same = target === ppTarget;
  chartOf("streets", barOption("streets", rows.map((r) => r.name), [
    { name: L["share"], type: "bar", itemStyle: { color: COLORS.second }, data: rows.map((r) => pct(r.share)),
      markLine: targetLine(pct(target), same ? `目标 ${show("pct", target)}（普惠、公建民营）` : `普惠目标 ${show("pct", target)}`) },
    { name: L["public_private_share"], type: "bar", itemStyle: { color: COLORS.value }, data: rows.map((r) => pct(r.public_private_share)),
      markLine: same ? undefined : targetLine(pct(ppTarget), `公建民营目标 ${show("pct", ppTarget)}`) },
  ], { ...pctAxis, max: 100 }), "街镇覆盖：各区柱状图，数字见旁边的表格");
  const line = (r) => cell(streets, r, "covered", "int") + cell(streets, r, "streets", "int") + cell(streets, r, "share", "pct") +
    cell(src, src.byCode.get(r.code), "target", "pct") + cell(streets, r, "public_private_covered", "int") +
    cell(streets, r, "public_private_share", "pct") + cell(ppSrc, ppSrc.byCode.get(r.code), "public_private_target", "pct");
  table("streets", `街镇覆盖（${streets.year}年末）`, ["区", th(L, "covered"), th(L, "streets"), th(L, "share"), th(L, "target", targetSuffix(streets, src)),
    th(L, "public_private_covered"), th(L, "public_private_share"), th(L, "public_private_target", targetSuffix(streets, ppSrc))],
  rows.map((r) => ({ name: r.name, cells: line(r) })), line(streets.city));
  if (streets.uncovered && streets.uncovered.length) {
    const list = streets.uncovered.map((s) => `${s.district_name}${s.name}`).join("、");
    document.getElementById("table-streets").insertAdjacentHTML("beforeend",
      `<details><summary>尚未有普惠托育机构的街道（镇）${streets.uncovered.length} 个</summary><p>${esc(list)}</p></details>`);
  }
}

function indexed(answer, endpoint) {
  if (!answer) return null;
  answer.endpoint = endpoint;
  answer.byCode = new Map([...answer.districts, answer.city].map((r) => [r.code, r]));
  return answer;
}

async function load() {
  const year = Number(yearSelect.value);
  setStatus(status, "正在加载统计…");
  delete document.body.dataset.ready;
  clearCharts();
  const view = {};
  try {
    const wanted = [
      getJson("reporting", "/v1/stats/districts", { year }),
      getJson("reporting", "/v1/stats/streets", { year }),
      getJson("reporting", "/v1/stats/progress"),
      ...(year > PLAN_END ? [getJson("reporting", "/v1/stats/districts", { year: PLAN_END }), getJson("reporting", "/v1/stats/streets", { year: PLAN_END })] : []),
    ];
    const [stats, streets, progress, planEnd, streetsPlanEnd] = await Promise.all(wanted);
    view.stats = indexed(stats, "districts");
    view.streets = indexed(streets, "streets");
    view.progress = progress;
    view.planEnd = indexed(planEnd, "districts");
    view.streetsPlanEnd = indexed(streetsPlanEnd, "streets");
  } catch (err) {
    setStatus(status, err instanceof ApiError && err.status === 404
      ? "统计接口（共享台账服务 /v1/stats/districts）暂未提供。"
      : `加载失败：${err.message}`, true);
    document.body.dataset.ready = "error";
    return;
  }
  const { stats } = view;
  const L = stats.labels;
  const ry = stats.city.annual_reports.report_year;
  document.getElementById("year-note").textContent =
    `${stats.year}年度：备案机构、托位、信用等级等为${stats.year}年末的状态（当年为今天）；检查、违规、备案审核、无证照案件、投诉为${stats.year}年内发生的；年报为${ry}年度年报（${ry + 1}年3月31日前报送）。`;
  kpis(view);
  progressPanel(view);
  slotsPanel(view);
  ratioPanel(view, "slots_per_1000", L["slots_per_1000.value"], "备案托位 × 1000 ÷ 常住人口，各年度均按2023年常住人口计算；目标：全市2023年4.0，2024年5.0，2025年5.8（行动计划全市工作目标，未分解到各区，各区不设此目标）。",
    "slots_per_1000.value", "slots_per_1000.target", "num", [["slots_per_1000.residents", "int"]]);
  ratioPanel(view, "puhui", L["puhui.share"], "普惠托位 ÷ 备案托位；目标：全市2025年不少于30%（行动计划全市工作目标，未分解到各区，各区不设此目标）。", "puhui.share", "puhui.target", "pct",
    [["puhui.slots", "int"]]);
  modelsPanel(view);
  streetsPanel(view);
  ratioPanel(view, "annual_reports", `${L["annual_reports.completion_rate"]}（${ry}年度年报）`,
    `${ry}年度年报（${ry + 1}年3月31日前报送）：已报送 ÷ 应报送（${ry}年末前备案、报送截止日仍未注销的机构）；目标：2025年度100%（行动计划第19项）。`,
    "annual_reports.completion_rate", "annual_reports.target", "pct",
    [["annual_reports.expected", "int"], ["annual_reports.submitted", "int"], ["annual_reports.overdue", "int"]]);
  ratioPanel(view, "staff", L["staff.certified_rate"], "持有未过期证书的在岗人员 ÷ 在岗人员（统计日在岗）。", "staff.certified_rate", null, "pct",
    [["staff.active", "int"], ["staff.certified", "int"]]);
  ratioPanel(view, "inspections", L["inspections.coverage"], `${stats.year}年内有公开检查结果（双随机抽查、专项检查、复查均计）的已备案机构 ÷ 已备案机构。`, "inspections.coverage", null, "pct",
    [["inspections.filed_institutions", "int"], ["inspections.inspected", "int"]]);
  ratioPanel(view, "filing", L["filing_decisions.pass_rate"], `${stats.year}年内作出的备案审核决定中予以备案的比例：予以备案 ÷（予以备案 + 退回补正 + 不予备案）；每次决定各计一次。`,
    "filing_decisions.pass_rate", null, "pct",
    [["filing_decisions.filed", "int"], ["filing_decisions.returned", "int"], ["filing_decisions.rejected", "int"]]);
  stackPanel(view, "quality", "质量评估等级", `已备案机构中有现场质量评估的（自评不计），按其${stats.year}年末前最近一次现场评估的等级计数；${L["quality_assessment.share"]}见上方。`,
    "quality_assessment.grades", QUALITY_GRADES);
  stackPanel(view, "grades", "信用等级构成", "已备案机构在年末（本年为今天）执行的信用等级；A 信用风险低 — D 信用风险高。", "credit_grades", GRADES);
  stackPanel(view, "violations", "已确认违规（按严重程度）", `${stats.year}年内经审核确认的违规，按严重程度计数。`, "violations", SEVERITIES);
  countsPanel(view, "unlicensed", "无证照治理", `按案件所在区：${stats.year}年新立案、${stats.year}年末仍在办，以及${stats.year}年内结案（经指导已备案 / 依法关停）的无证照经营案件。`,
    ["unlicensed_cases.opened", "unlicensed_cases.open", "unlicensed_cases.closed_filed", "unlicensed_cases.closed_down"]);
  complaintsPanel(view);
  setStatus(status, `${stats.year} 年度 · 统计日 ${fmt.date(stats.as_of)} · ${stats.districts.length} 个区`);
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
