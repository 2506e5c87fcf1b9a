// One work queue as a table: GET /v1/work/queues/{queue} of its service, filtered by a district of
// the officer's scope, sorted by deadline, 20 a page; each row links to the item's page.
import { DISTRICT_ZH, SERVICE_ZH, call, deadlineCell, el, itemHref, requireOfficer } from "./work.js";

const PAGE_SIZE = 20;
const who = requireOfficer();
const params = new URLSearchParams(window.location.search);
const service = params.get("service");
const queue = params.get("queue");
const status = document.getElementById("status");
const table = document.getElementById("items");
const district = document.getElementById("district");
const sort = document.getElementById("sort");
let page = 1;

function fillDistricts() {
  const mine = Array.isArray(who.claims.districts) && who.claims.districts.length ? who.claims.districts : Object.keys(DISTRICT_ZH);
  for (const code of mine) district.append(el("option", { value: code, text: DISTRICT_ZH[code] || code }));
}

async function load() {
  status.textContent = "正在加载……";
  status.classList.remove("error");
  let answer;
  try {
    answer = await call(service, `/v1/work/queues/${encodeURIComponent(queue)}`, {
      params: { page, page_size: PAGE_SIZE, sort: sort.value, district: district.value },
    });
  } catch (err) {
    status.textContent = err.message;
    status.classList.add("error");
    table.hidden = true;
    return;
  }
  document.getElementById("queue-title").textContent = answer.title_zh;
  document.title = `${answer.title_zh} — 托育监管工作台`;
  document.getElementById("items-caption").textContent = `${SERVICE_ZH[service] || service}：${answer.title_zh}`;
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const item of answer.items) {
    const row = el("tr", { "data-id": item.id });
    const title = el("th", { scope: "row" }, el("a", { href: itemHref(service, queue, item), text: item.title_zh }));
    row.append(title, el("td", { text: item.district ? item.district.name : "—" }), deadlineCell(item));
    row.append(el("td", { text: item.action.label_zh }));
    if (item.days_overdue > 0) row.classList.add("overdue");
    body.append(row);
  }
  table.hidden = answer.items.length === 0;
  const pages = Math.max(1, Math.ceil(answer.total / PAGE_SIZE));
  document.getElementById("page-info").textContent = `第 ${page} / ${pages} 页`;
  document.getElementById("prev").disabled = page <= 1;
  document.getElementById("next").disabled = page >= pages;
  status.textContent = answer.total ? `共 ${answer.total} 项` : "没有待办事项";
  status.dataset.total = String(answer.total);
}

if (who) {
  fillDistricts();
  district.addEventListener("change", () => { page = 1; load(); });
  sort.addEventListener("change", () => { page = 1; load(); });
  document.getElementById("prev").addEventListener("click", () => { page -= 1; load(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; load(); });
  document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
  load();
}
