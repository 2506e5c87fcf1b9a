// 一公开: the published inspection results, newest first, by district.
import { CONCLUSION_CLASS, esc, fmt, getJson, setStatus } from "./common.js";

const PAGE = 20;
const form = document.getElementById("filters");
const district = document.getElementById("district");
const status = document.getElementById("status");
const body = document.getElementById("results");
const prev = document.getElementById("prev");
const next = document.getElementById("next");
const pageInfo = document.getElementById("page-info");
let page = 1;

async function load() {
  setStatus(status, "正在查询…");
  const url = new URL(window.location.href);
  url.search = district.value ? new URLSearchParams({ district: district.value }).toString() : "";
  window.history.replaceState(null, "", url);
  try {
    const out = await getJson("inspection", "/v1/public/inspection-results", { district: district.value, page, page_size: PAGE });
    const pages = Math.max(1, Math.ceil(out.total / PAGE));
    body.innerHTML = out.items.length
      ? out.items
          .map(
            (r) => `<tr class="result-row"><td><a href="institution.html?id=${encodeURIComponent(r.institution_id)}">${esc(r.institution_name)}</a></td>
            <td>${esc(r.district_name)}</td><td>${fmt.date(r.inspected_on)}</td><td>${esc(r.inspection_type_zh)}</td>
            <td><span class="badge ${CONCLUSION_CLASS[r.conclusion] || ""}">${esc(r.conclusion_zh)}</span></td>
            <td class="num">${Object.values(r.violations_by_severity || {}).reduce((a, b) => a + b, 0)}</td>
            <td>${esc(r.summary_zh)}</td></tr>`,
          )
          .join("")
      : '<tr><td colspan="7">暂无公开的检查结果</td></tr>';
    pageInfo.textContent = `第 ${page} / ${pages} 页`;
    // hidden until the first page is in: rows filled in above it would push it down (a layout shift)
    document.getElementById("pager").hidden = false;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
    setStatus(status, `共公开检查结果 ${out.total} 条`);
  } catch (err) {
    setStatus(status, `查询失败：${err.message}`, true);
  }
}

async function start() {
  // the district list is the page's own (the city's 11 districts): nothing else is downloaded
  district.value = new URL(window.location.href).searchParams.get("district") || "";
  await load();
  document.body.dataset.ready = "true";
}

form.addEventListener("submit", (event) => { event.preventDefault(); page = 1; load(); });
district.addEventListener("change", () => { page = 1; load(); });
prev.addEventListener("click", () => { page -= 1; load(); });
next.addEventListener("click", () => { page += 1; load(); });
start();
