// One institution's public record: its filing (备案), fees, slots, credit grade with what the grade
// means for its supervision, quality grade, and every published inspection with each violation, its
// rectification and the follow-up (复查) that verified it; a printable report per inspection.
import { ApiError, CONCLUSION_CLASS, GRADE_TEXT, esc, fmt, getAll, getJson, param, setStatus } from "./common.js";

const status = document.getElementById("status");
const LISTS_ZH = { serious_dishonesty: "严重失信主体名单", industry_ban: "从业禁止名单" };
const VIOLATION_CLASS = { closed: "ok", rectification_reported: "warn", confirmed: "warn", escalated: "bad" };

function facts(i) {
  const share = i.total_slots ? i.puhui_slots / i.total_slots : 0;
  const classes = (i.classes || []).map((c) => `${c.class_type_zh}（${c.age_group_zh}）${c.size} 人`).join("；");
  const e = i.enrolment;
  const vacancies = e ? `${fmt.int(e.vacancies)} 个（据 ${e.year} 年度年报，在托 ${fmt.int(e.enrolled_children)} 人）` : null;
  const rows = [
    ["备案编号", i.filing_number],
    ["备案日期", fmt.date(i.filed_on)],
    ["统一社会信用代码", i.uscc],
    ["举办主体", i.organiser_type_zh],
    ["办托模式", i.operating_model_zh],
    ["所在区", i.district.name],
    ["街道（镇）", i.street.name],
    ["地址", i.address],
    ["服务类型", i.service_types_zh.join("、")],
    ["收托年龄与班级", classes || "—"],
    ["服务时间", i.opening_hours ? `工作日 ${i.opening_hours.replace("-", "—")}` : "未填报"],
    ["咨询电话", i.public_phone || "未公开"],
    ["备案托位", `${fmt.int(i.total_slots)} 个`],
    // while suspended nothing is offered: the filed 普惠 capacity only as such, not as places to apply for
    ["普惠托位", i.puhui_slots > 0
      ? (i.suspension ? `暂停收托期间不提供（备案普惠托位 ${fmt.int(i.puhui_slots)} 个）` : `${fmt.int(i.puhui_slots)} 个（占 ${fmt.pct(share, 0)}）`)
      : "无"],
    // serious-dishonesty list: 普惠 suspended, with the reason and legal basis the API gives
    ...(i.puhui_suspension
      ? [["普惠资格", `${i.puhui_suspension.status_zh}（自 ${fmt.date(i.puhui_suspension.since)}）：${i.puhui_suspension.reason_zh}；依据：${i.puhui_suspension.legal_basis}；${i.puhui_suspension.until_zh}`]]
      : []),
    // 暂停收托 after a confirmed child-abuse case, until the filing officers decide: since, reason, legal basis
    ...(i.suspension
      ? [["收托状态", `${i.suspension.status_zh}（自 ${fmt.date(i.suspension.since)}）：${i.suspension.reason_zh}；依据：${i.suspension.legal_basis}；${i.suspension.puhui_zh}；${i.suspension.until_zh}`]]
      : []),
    ["收费标准", fmt.yuan(i.monthly_fee_yuan)],
    ["普惠托位收费", i.puhui_slots > 0 ? (i.puhui_monthly_fee_yuan == null ? "未填报" : fmt.yuan(i.puhui_monthly_fee_yuan)) : "无普惠托位"],
    ["空余托位", i.suspension ? "暂停收托，不接收入托" : vacancies || "未公布（尚无年报）"],
    ["提供膳食", i.meals ? "是" : "否"],
    ["户外活动场地", i.outdoor_area_m2 == null ? "未填报" : `${Number(i.outdoor_area_m2).toLocaleString("zh-CN")} 平方米`],
  ];
  return rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
}

function creditHtml(c, institution) {
  if (!c) {
    return institution.credit_grade
      ? `<p><span class="badge grade-${esc(institution.credit_grade)}">信用等级 ${esc(GRADE_TEXT[institution.credit_grade])}</span></p>`
      : "<p>未评级（尚无信用信息）</p>";
  }
  const lists = (c.lists || []).map((l) => `<span class="badge bad">已列入${esc(LISTS_ZH[l] || l)}</span>`).join("")
    || '<span class="badge ok">未列入失信名单</span>';
  if (!c.grade) return `<p>未评级（尚无信用信息）</p><div class="badges">${lists}</div>`;
  // what the grade means for the institution's supervision: the measures the credit service's public
  // answer gives in words, from the credit policy version that graded it (services/credit/policies)
  const measures = (c.measures || []).map((m) => `<li>${esc(m.title)}<span class="meta">（依据：${esc(m.legal_basis)}）</span></li>`).join("");
  return `<p><span class="badge grade-${esc(c.grade)}">信用等级 ${esc(c.grade_title ? `${c.grade}（${c.grade_title}）` : GRADE_TEXT[c.grade] || c.grade)}</span></p>
    <p class="meta">评定日期 ${fmt.date(c.graded_at)} · 评价规则 ${esc(c.policy_version || "—")}</p>
    <div class="badges">${lists}</div>
    <h3 class="small">该等级对应的监管措施</h3>${measures ? `<ul class="measures">${measures}</ul>` : "<p>—</p>"}`;
}

function qualityHtml(q) {
  if (!q) return "<p>尚未开展现场质量评估</p>";
  return `<p><span class="badge grade-${esc(q.grade)}">质量评估 ${esc(q.grade)}（${esc(q.grade_zh)}）</span>${q.veto_failed ? ' <span class="badge bad">基础项未达标</span>' : ""}</p>
    <p class="meta">评估日期 ${fmt.date(q.assessed_on)} · 复评期限 ${fmt.date(q.reassess_by)}</p>
    <p class="meta">${esc(q.note_zh)}</p>`;
}

function violationRow(v) {
  const followUps = v.follow_ups.length
    ? v.follow_ups.map((f) => `${fmt.date(f.inspected_on)} 复查：${f.rectified ? "整改到位" : "未整改到位"}`).join("；")
    : "尚未复查";
  return `<tr class="violation"><td>${esc(v.title_zh)}</td>
    <td><span class="badge severity-${esc(v.severity)}">${esc(v.severity_zh)}</span></td>
    <td>${esc(v.legal_basis)}</td><td>${fmt.date(v.rectification_due)}</td>
    <td><span class="badge ${VIOLATION_CLASS[v.status] || ""}">${esc(v.status_zh)}</span></td>
    <td class="follow-up">${esc(followUps)}</td></tr>`;
}

function inspectionHtml(r, institution) {
  const verified = r.follow_up_of
    ? `<p class="follow-up-of">复查 ${esc(r.follow_up_of.title_zh)} 的整改情况：<strong>${r.follow_up_of.rectified ? "整改到位" : "未整改到位"}</strong></p>`
    : "";
  const violations = r.violations.length
    ? `<div class="table-wrap"><table class="violations"><caption>发现的问题（${r.violations.length} 项）</caption>
        <thead><tr><th scope="col">问题</th><th scope="col">严重程度</th><th scope="col">法律依据</th><th scope="col">整改期限</th><th scope="col">整改状态</th><th scope="col">复查结果</th></tr></thead>
        <tbody>${r.violations.map(violationRow).join("")}</tbody></table></div>`
    : "<p>未发现问题</p>";
  return `<article class="card inspection-result" id="inspection-${esc(r.task_id)}" data-task="${esc(r.task_id)}" aria-labelledby="title-${esc(r.task_id)}">
    <header class="inspection-head">
      <h3 id="title-${esc(r.task_id)}">${fmt.date(r.inspected_on)} ${esc(r.inspection_type_zh)}</h3>
      <span class="badge conclusion ${CONCLUSION_CLASS[r.conclusion] || ""}">${esc(r.conclusion_zh)}</span>
    </header>
    <p class="print-only">${esc(institution.name)} · 备案编号 ${esc(institution.filing_number)} · 统一社会信用代码 ${esc(institution.uscc)} · ${esc(institution.address)}</p>
    <dl class="facts inspection-facts">
      <dt>检查日期</dt><dd class="inspected-on">${fmt.date(r.inspected_on)}</dd>
      <dt>检查类型</dt><dd>${esc(r.inspection_type_zh)}</dd>
      <dt>检查结论</dt><dd>${esc(r.conclusion_zh)}</dd>
      <dt>公开日期</dt><dd class="published-on">${fmt.date(r.published_at)}</dd>
      <dt>说明</dt><dd>${esc(r.summary_zh)}</dd>
    </dl>
    ${verified}${violations}
    <p class="no-print"><button type="button" class="secondary print-report" data-print="${esc(r.task_id)}">打印检查报告</button></p>
  </article>`;
}

function printReport(taskId) {
  // the print style sheet shows only the article marked for printing
  for (const el of document.querySelectorAll(".inspection-result")) el.classList.toggle("printing", el.dataset.task === taskId);
  document.body.classList.add("print-one");
  window.print();
}

// The institution's marker within its district's real boundary, on the directory's map (Leaflet,
// assets/citymap.js); a base map only where the deployment configured one (assets/config.js).
// Leaflet, its plugin and the boundaries (≈ 85 KB gzipped, and drawing them costs a phone's CPU) are
// fetched when the map comes near the screen (at once beside the facts on a wide screen, on a phone
// when the visitor scrolls to it): the record never waits for the map.
function nearTheScreen(element) {
  return new Promise((resolve) => {
    const observer = new IntersectionObserver((entries) => {
      if (!entries.some((entry) => entry.isIntersecting)) return;
      observer.disconnect();
      resolve();
    }, { rootMargin: "200px" });
    observer.observe(element);
  });
}

function loaded(element) {
  return new Promise((resolve, reject) => {
    element.addEventListener("load", resolve, { once: true });
    element.addEventListener("error", () => reject(new Error(`${element.src || element.href} 加载失败`)), { once: true });
    document.head.append(element);
  });
}

async function placeOnMap(institution) {
  const container = document.getElementById("map");
  await nearTheScreen(container);
  try {
    const css = (href) => Object.assign(document.createElement("link"), { rel: "stylesheet", href });
    const script = (src) => Object.assign(document.createElement("script"), { src, async: false });
    await Promise.all([loaded(css("vendor/leaflet/leaflet.css")), loaded(css("vendor/leaflet/MarkerCluster.css")), loaded(script("vendor/leaflet/leaflet.js"))]);
    await loaded(script("vendor/leaflet/leaflet.markercluster.js")); // extends the global L
    const { CityMap } = await import("./citymap.js");
    const map = new CityMap(container, { tileLayers: (window.CHILDCARE_MAP && window.CHILDCARE_MAP.tileLayers) || [] });
    map.setInstitutions([institution], (i) => `<p class="popup-title">${esc(i.name)}</p><p class="meta">${esc(i.address)}</p>`);
    map.showDistrict(institution.district.code);
    document.getElementById("map-dot").classList.toggle("puhui", institution.puhui_slots > 0);
    container.dataset.district = institution.district.code;
  } catch (err) {
    container.textContent = `地图加载失败：${err.message}`;
  }
}

async function start() {
  const id = param("id");
  if (!id) {
    setStatus(status, "缺少机构编号。请从托育地图进入。", true);
    return;
  }
  let institution;
  try {
    institution = await getJson("filing", `/v1/public/institutions/${encodeURIComponent(id)}/record`);
  } catch (err) {
    setStatus(status, err instanceof ApiError && err.status === 404 ? "未找到该机构（可能尚未备案或已注销）。" : `加载失败：${err.message}`, true);
    return;
  }
  document.title = `${institution.name} — 广州托育地图`;
  document.getElementById("name").textContent = institution.name;
  document.getElementById("facts").innerHTML = facts(institution);
  if (institution.suspension) {
    document.getElementById("name").insertAdjacentHTML(
      "afterend",
      `<p id="suspended-badge" class="badges"><span class="badge bad suspended">${esc(institution.suspension.status_zh)}</span></p>`,
    );
  }
  document.getElementById("map-desc").textContent = `${institution.name} 位于${institution.district.name}${institution.street.name}`;
  document.getElementById("complain").href = `complaint.html?institution=${encodeURIComponent(institution.id)}`;
  document.getElementById("quality").innerHTML = qualityHtml(institution.quality_assessment);
  document.getElementById("content").hidden = false;
  setStatus(status, "");
  placeOnMap(institution);

  const [credit, results] = await Promise.allSettled([
    getJson("credit", `/v1/public/credit/institutions/${encodeURIComponent(id)}`),
    getAll("inspection", "/v1/public/inspection-results", { institution: institution.id }),
  ]);
  document.getElementById("credit").innerHTML = creditHtml(credit.status === "fulfilled" ? credit.value : null, institution);

  const box = document.getElementById("inspections");
  const caption = document.getElementById("inspections-caption");
  if (results.status === "fulfilled") {
    const own = results.value;
    caption.textContent = own.length ? `共 ${own.length} 次公开的检查结果，最新的在前` : "尚无公开的检查结果";
    box.innerHTML = own.map((r) => inspectionHtml(r, institution)).join("");
  } else {
    setStatus(caption, `检查结果加载失败：${results.reason.message}`, true);
  }
  box.addEventListener("click", (event) => {
    const taskId = event.target?.dataset?.print;
    if (taskId) printReport(taskId);
  });
  window.addEventListener("afterprint", () => document.body.classList.remove("print-one"));
  const printing = param("print");
  if (printing) {
    // a report's print view (…&print=<task id>): the same page as the printer sees it
    for (const el of document.querySelectorAll(".inspection-result")) el.classList.toggle("printing", el.dataset.task === printing);
    document.body.classList.add("print-one");
  }
  document.body.dataset.ready = "true";
}

start();
