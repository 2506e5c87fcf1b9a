// 信用查询: an institution's published credit grade and list membership (institutions only: the
// public never sees a person's record).
import { ApiError, GRADE_TEXT, esc, fmt, getAll, getJson, gradeBadge, setStatus } from "./common.js";

const LISTS_ZH = { serious_dishonesty: "严重失信主体名单", industry_ban: "从业禁止名单" };
const form = document.getElementById("lookup");
const district = document.getElementById("district");
const status = document.getElementById("status");
const list = document.getElementById("results");
const detail = document.getElementById("detail");
const SHOWN = 50; // a page of the directory's answer: what the list shows
let shownItems = [];

function matches(i) {
  const grade = form.elements.grade.value;
  if (district.value && i.district.code !== district.value) return false;
  if (grade === "none" && i.credit_grade) return false;
  if (grade && grade !== "none" && i.credit_grade !== grade) return false;
  return true;
}

async function search() {
  // a name or a unified social credit code is searched by the directory (the same search as the
  // map's), within the district; only what the list shows is downloaded: one page, or every match
  // when a grade narrows them (the directory's answer carries the grade, it does not filter by it)
  const q = form.elements.q.value.trim();
  // an institution suspended (暂停收托) after a confirmed child-abuse case is left off the map's list,
  // but its credit record is what a parent looks it up for
  const params = { q, district: district.value, include_suspended: true };
  let candidates;
  let total;
  setStatus(status, "正在查询…");
  try {
    if (form.elements.grade.value) {
      candidates = await getAll("filing", "/v1/public/institutions", params);
      total = null;
    } else {
      const out = await getJson("filing", "/v1/public/institutions", { ...params, page: 1, page_size: SHOWN });
      candidates = out.items;
      total = out.total;
    }
  } catch (err) {
    setStatus(status, `查询失败：${err.message}`, true);
    return;
  }
  const found = candidates.filter(matches);
  const shown = found.slice(0, SHOWN);
  const count = total ?? found.length;
  shownItems = shown;
  list.innerHTML = shown
    .map(
      (i) => `<li class="credit-item" data-id="${esc(i.id)}"><h3>${esc(i.name)}</h3>
      <p class="meta">${esc(i.district.name)} · ${esc(i.street.name)}</p>
      <div class="badges">${gradeBadge(i.credit_grade)}</div>
      <p><button type="button" class="secondary" data-detail="${esc(i.id)}" style="width:auto">查看信用详情</button>
         <a href="institution.html?id=${encodeURIComponent(i.id)}">机构详情</a></p></li>`,
    )
    .join("");
  setStatus(status, count > shown.length ? `找到 ${count} 家机构，显示前 ${shown.length} 家；请输入更具体的名称` : `找到 ${count} 家机构`);
}

async function showDetail(id) {
  const institution = shownItems.find((i) => i.id === id);
  detail.hidden = false;
  detail.innerHTML = "正在加载…";
  try {
    const c = await getJson("credit", `/v1/public/credit/institutions/${encodeURIComponent(id)}`);
    const lists = (c.lists || []).map((l) => `<span class="badge bad">已列入${esc(LISTS_ZH[l] || l)}</span>`).join("") || '<span class="badge ok">未列入失信名单</span>';
    detail.innerHTML = `<h2>${esc(institution ? institution.name : "")}</h2>
      <p>${c.grade ? `<span class="badge grade-${esc(c.grade)}">信用等级 ${esc(GRADE_TEXT[c.grade] || c.grade)}</span>` : "未评级（尚无信用信息）"}</p>
      <p class="meta">评定日期 ${fmt.date(c.graded_at)} · 评价规则版本 ${esc(c.policy_version || "—")}</p>
      <div class="badges">${lists}</div>
      ${(c.measures || []).length ? `<h3>该等级对应的监管措施</h3><ul class="measures">${c.measures.map((m) => `<li>${esc(m.title)}<span class="meta">（依据：${esc(m.legal_basis)}）</span></li>`).join("")}</ul>` : ""}`;
  } catch (err) {
    detail.innerHTML = err instanceof ApiError && err.status === 404 ? "<p>该机构尚无信用档案（未评级）。</p>" : `<p class="error">查询失败：${esc(err.message)}</p>`;
  }
  // on a phone the detail is far below the list: bring it into view and move the focus there
  detail.scrollIntoView({ block: "start" });
  detail.focus({ preventScroll: true });
}

form.addEventListener("submit", (event) => { event.preventDefault(); search(); });
for (const name of ["district", "grade"]) form.elements[name].addEventListener("change", search);
list.addEventListener("click", (event) => {
  const id = event.target?.dataset?.detail;
  if (id) showDetail(id);
});

async function start() {
  await search();
  document.body.dataset.ready = "true";
}

start();
