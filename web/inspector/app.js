// 检查员移动端: the inspectors' offline-first app (issue 21). Plain modules, no framework.
// Screens (by the URL's hash): sign-in, my tasks, a task, its checklist, the violation picker, the
// sync queue. Reads fall back to what the phone last saw; writes go through the outbox (queue.js).
import { ApiError, BASE, Offline, getCached, request } from "./api.js";
import * as auth from "./auth.js";
import { CHECKIN_RADIUS_M, distanceM, position, shownDistance } from "./geo.js";
import { preparePhoto } from "./photo.js";
import { drawTaskMap } from "./taskmap.js";
import * as queue from "./queue.js";
import * as store from "./store.js";

const view = document.getElementById("view");
const banner = document.getElementById("sync-banner");
const title = document.getElementById("title");
const back = document.getElementById("back");

const STATUS_ZH = { assigned: "待检查", in_progress: "检查中", submitted: "已提交，待审核", reviewed: "已审核" };
const SEVERITY_ZH = { minor: "轻微", general: "一般", serious: "严重", critical: "特别严重" };
const RESULT_ZH = { pass: "符合", fail: "不符合", not_applicable: "不适用" };
// shared/events/filing.py's labels
const MODEL_ZH = { public: "公办", public_private: "公建民营", private: "民办", employer: "用人单位办", kindergarten_class: "幼儿园托班", community: "社区托育点", family: "家庭托育点" };
const CLASS_ZH = { infant: "乳儿班", toddler: "托小班", older: "托大班", mixed: "混合班" };
const ROLE_ZH = { principal: "负责人", carer: "保育人员", health: "保健人员", security: "安保人员", cook: "炊事人员", other: "其他人员" };
const KIND_ZH = { random: "双随机抽查", targeted: "定向检查" };
const KINDS_ZH = { checkin: "签到", findings: "检查项", violation: "违规记录", submit: "签名提交", photo: "照片" };

const esc = (v) =>
  String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

let me = null; // {token, claims}
let signInError = null; // a sign-in that came back refused
let renderSeq = 0;
let taskMap = null; // the map of 任务地图 while it is shown (removed with its screen)

// --- data: the service when it answers, the phone's copy when it does not ---------------------------------

async function myTasks() {
  try {
    const answer = await getCached("kv", "my-tasks", "/v1/me/tasks");
    return { ...answer.body, offline: false };
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
    const cached = await store.get("kv", "my-tasks");
    return { ...(cached ? cached.body : { items: [] }), offline: true, cachedAt: cached && cached.fetchedAt };
  }
}

async function taskDetail(id) {
  try {
    const answer = await getCached("tasks", id, `/v1/tasks/${id}`);
    return { task: answer.body, offline: false, notModified: answer.notModified };
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
    const cached = await store.get("tasks", id);
    if (!cached) throw new Error("离线，且本机没有该任务的资料：请联网后打开一次任务");
    return { task: cached.body, offline: true, cachedAt: cached.fetchedAt };
  }
}

async function catalogue() {
  try {
    return (await getCached("kv", "catalogue", "/v1/catalogue/violations")).body;
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
    const cached = await store.get("kv", "catalogue");
    if (!cached) throw new Error("离线，且本机没有违规行为目录：请联网后再打开一次");
    return cached.body;
  }
}

/** Today's and this week's open tasks, their details and the catalogue, kept on the phone for a bad signal. */
async function prefetch(tasks) {
  const { today, week } = split(tasks);
  for (const t of [...today, ...week]) {
    try {
      await getCached("tasks", t.id, `/v1/tasks/${t.id}`);
    } catch (err) {
      return;
    }
  }
  try {
    await catalogue();
  } catch (err) {
    /* offline: next time */
  }
}

// Guangzhou's calendar, whatever the phone's time zone: due dates are China's dates (the service's).
const CHINA_DATE = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });

const CHINA_TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });

/** A timestamp as Guangzhou's clock shows it (12/06 07:10). */
function when(iso) {
  return iso ? CHINA_TIME.format(new Date(iso)) : "";
}

function chinaDate(d = new Date()) {
  return CHINA_DATE.format(d); // YYYY-MM-DD
}

function split(items) {
  const today = chinaDate();
  const noon = new Date(`${today}T12:00:00+08:00`);
  const toSunday = (7 - new Date(`${today}T00:00:00Z`).getUTCDay()) % 7;
  const weekEnd = chinaDate(new Date(noon.getTime() + toSunday * 86400000));
  const open = items.filter((t) => t.status === "assigned" || t.status === "in_progress");
  return {
    today: open.filter((t) => t.due_by <= today || t.status === "in_progress"),
    week: open.filter((t) => t.due_by > today && t.due_by <= weekEnd && t.status !== "in_progress"),
    later: open.filter((t) => t.due_by > weekEnd && t.status !== "in_progress"),
    done: items.filter((t) => t.status === "submitted" || t.status === "reviewed"),
  };
}

async function pendingFor(taskId) {
  return (await queue.entries()).filter((e) => e.taskId === taskId);
}

async function draft(key) {
  return (await store.get("drafts", key)) || null;
}

async function saveDraft(key, value) {
  await store.put("drafts", value, key);
}

// --- chrome ---------------------------------------------------------------------------------------------

async function showBanner() {
  const pending = await queue.entries();
  const conflicts = pending.filter((e) => e.state === "conflict").length;
  const offline = !queue.state.online || !navigator.onLine;
  let text = "";
  let cls = "banner";
  if (conflicts) {
    text = `有 ${conflicts} 条记录未被接受，需要您处理 ›`;
    cls += " banner-conflict";
  } else if (offline) {
    text = pending.length
      ? `离线：${pending.length} 条记录已保存在本机，联网后自动按顺序提交 ›`
      : "离线：可继续检查，记录会保存在本机";
    cls += " banner-offline";
  } else if (pending.length) {
    text = `正在提交 ${pending.length} 条记录… ›`;
  }
  banner.className = cls;
  banner.hidden = !text;
  banner.innerHTML = text ? `<a href="#/sync">${esc(text)}</a>` : "";
  banner.dataset.pending = String(pending.length);
  banner.dataset.conflicts = String(conflicts);
}

function setTitle(text, backTo) {
  title.textContent = text;
  document.title = `${text} · 检查员移动端`;
  back.hidden = !backTo;
  back.setAttribute("href", backTo || "#/tasks");
}

function problem(message) {
  return `<p class="problem" role="alert">${esc(message)}</p>`;
}

// --- screens --------------------------------------------------------------------------------------------

async function signInScreen(error) {
  setTitle("登录", null);
  view.innerHTML = `
    <section class="card">
      <h2>检查员登录</h2>
      <p>使用广州市统一身份认证平台的账号登录。</p>
      ${error ? problem(error) : ""}
      <button type="button" class="primary" data-action="oidc">统一身份认证登录</button>
    </section>
    <section class="card">
      <h2>开发环境：粘贴令牌</h2>
      <label for="token">登录令牌（./dev token inspector）</label>
      <textarea id="token" rows="4" autocomplete="off" spellcheck="false"></textarea>
      <button type="button" data-action="paste-token">使用此令牌登录</button>
    </section>`;
}

function taskName(t) {
  return t.institution ? t.institution.name : `无证场所：${(t.site && t.site.operator_name) || ""}`;
}

/** 列表 / 地图: the list is the first and the main way; the map shows where today's and this week's tasks are. */
function viewSwitch(onMap) {
  return `<nav class="views" aria-label="显示方式">
      <a href="#/tasks" ${onMap ? "" : 'aria-current="page"'}>列表</a>
      <a href="#/tasks/map" ${onMap ? 'aria-current="page"' : ""}>地图</a>
    </nav>`;
}

function whoLine(data) {
  return `<p class="who">${esc((me.claims && (me.claims.name || me.claims.sub)) || "")}
      <button type="button" class="link" data-action="sign-out">退出登录</button></p>
    ${data.offline ? `<p class="note">离线：显示本机保存的任务（${esc(when(data.cachedAt || ""))}）</p>` : ""}`;
}

function taskCard(t) {
  const place = t.institution || t.site || {};
  const name = taskName(t);
  return `<li><a class="task" href="#/task/${esc(t.id)}">
      <span class="task-name">${esc(name)}</span>
      <span class="task-meta">${esc(place.district_name || "")} · ${esc(place.address || "")}</span>
      <span class="task-meta">截止 ${esc(t.due_by)} · <span class="status status-${esc(t.status)}">${esc(STATUS_ZH[t.status] || t.status)}</span>${t.needs_reassignment ? ' · <span class="warn">待重新指派</span>' : ""}</span>
    </a></li>`;
}

async function tasksScreen(tab) {
  setTitle("我的检查任务", null);
  const data = await myTasks();
  const groups = split(data.items || []);
  const current = tab || "today";
  const lists = { today: groups.today, week: groups.week, later: groups.later, done: groups.done };
  const labels = { today: "今日", week: "本周", later: "以后", done: "已提交" };
  view.innerHTML = `
    ${whoLine(data)}
    ${viewSwitch(false)}
    <nav class="tabs" aria-label="任务分组">
      ${Object.keys(labels)
        .map(
          (k) =>
            `<a href="#/tasks/${k}" ${k === current ? 'aria-current="page"' : ""}>${labels[k]} ${lists[k].length}</a>`,
        )
        .join("")}
    </nav>
    ${lists[current].length ? `<ul class="tasks">${lists[current].map(taskCard).join("")}</ul>` : `<p class="empty">没有${labels[current]}的任务</p>`}`;
  if (!data.offline) prefetch(data.items || []);
}

async function taskMapScreen() {
  setTitle("任务地图", null);
  const seq = renderSeq;
  const data = await myTasks();
  if (seq !== renderSeq) return;
  const groups = split(data.items || []);
  const placed = [];
  const unplaced = [];
  for (const [when_, list] of [["today", groups.today], ["week", groups.week]]) {
    for (const t of list) {
      const site = siteOf(t);
      (site ? placed : unplaced).push({ id: t.id, name: taskName(t), when: when_, site, task: t });
    }
  }
  const entry = (p) => `<li><a class="task" href="#/task/${esc(p.id)}">
      <span class="task-name"><span class="when when-${p.when}">${p.when === "today" ? "今日" : "本周"}</span> ${esc(p.name)}</span>
      <span class="task-meta">截止 ${esc(p.task.due_by)}${p.site ? "" : " · 没有登记坐标，地图上未标出"}</span></a></li>`;
  view.innerHTML = `
    ${whoLine(data)}
    ${viewSwitch(true)}
    <section class="card map-card" aria-labelledby="h-map">
      <h2 id="h-map">今日和本周任务的位置</h2>
      <p id="task-map-desc" class="visually-hidden">地图标出今日和本周检查任务的机构位置；点击标记打开任务。下方列表可逐项打开。</p>
      <div id="task-map" class="task-map" aria-describedby="task-map-desc"></div>
      <p class="map-legend">
        <span><span class="dot dot-today"></span>今日 ${groups.today.length}</span>
        <span><span class="dot dot-week"></span>本周 ${groups.week.length}</span>
        <span><span class="dot dot-me"></span>我的位置</span>
      </p>
      <p id="position-status" class="note" role="status"></p>
      <button type="button" class="small" data-action="my-position">显示我的位置</button>
    </section>
    ${placed.length + unplaced.length ? `<ul class="tasks">${[...placed, ...unplaced].map(entry).join("")}</ul>` : '<p class="empty">今日和本周没有检查任务</p>'}`;
  const container = document.getElementById("task-map");
  try {
    taskMap = await drawTaskMap(container, placed, (id) => {
      window.location.hash = `#/task/${id}`;
    });
  } catch (err) {
    container.textContent = `地图加载失败：${err.message}（可使用下方列表）`;
    return;
  }
  // the phone's position when the inspector already allowed it; otherwise only on 显示我的位置
  try {
    const permission = navigator.permissions ? await navigator.permissions.query({ name: "geolocation" }) : null;
    if (permission && permission.state === "granted") await showMyPosition();
  } catch (err) {
    /* no position: the tasks are on the map all the same */
  }
}

async function showMyPosition() {
  const status = document.getElementById("position-status");
  const drawn = taskMap;
  if (!status || !drawn) return;
  status.textContent = "正在获取位置…";
  try {
    const here = await position();
    if (drawn !== taskMap) return;
    drawn.showPosition(here);
    status.textContent = `已标出您的位置（精度约 ${Math.round(here.accuracy || 0)} 米）`;
  } catch (err) {
    status.textContent = err.message;
  }
}

function factsBlock(t) {
  const i = t.institution;
  if (!i) {
    const s = t.site || {};
    return `<dl class="facts"><dt>场所</dt><dd>${esc(s.operator_name)}</dd><dt>地址</dt><dd>${esc(s.district_name)} ${esc(s.address)}</dd></dl>`;
  }
  const classes = (i.classes || []).map((c) => `${CLASS_ZH[c.class_type] || "班级"}${c.size ? ` ${c.size} 人` : ""}`).join("、");
  return `<dl class="facts">
      <dt>地址</dt><dd>${esc(i.district_name)} ${esc(i.address)}</dd>
      <dt>统一社会信用代码</dt><dd>${esc(i.uscc)}</dd>
      <dt>托育类型</dt><dd>${esc(MODEL_ZH[i.operating_model] || i.operating_model)}</dd>
      <dt>托位</dt><dd>${esc(i.total_slots ?? "未登记")}</dd>
      ${classes ? `<dt>班级</dt><dd>${esc(classes)}</dd>` : ""}
      <dt>信用等级</dt><dd>${esc(i.credit_grade || "未评级")}</dd>
    </dl>`;
}

function siteOf(t) {
  const p = t.institution || t.site;
  return p && p.latitude != null ? { lat: p.latitude, lng: p.longitude } : null;
}

async function signedHere(taskId) {
  return (await store.get("kv", `signed:${taskId}`)) || false;
}

async function taskScreen(id) {
  const seq = renderSeq;
  const { task: t, offline, cachedAt } = await taskDetail(id);
  if (seq !== renderSeq) return;
  const pending = await pendingFor(id);
  const name = t.institution ? t.institution.name : "无证场所检查";
  setTitle(name, "#/tasks");
  const answered = new Set(t.findings.map((f) => f.item_code));
  for (const e of pending) if (e.kind === "findings") for (const it of e.body.items) answered.add(it.item_code);
  const total = t.checklist.length;
  const done = t.checklist.filter((c) => answered.has(c.item_code)).length;
  const pendingCheckins = pending.filter((e) => e.kind === "checkin");
  const pendingViolations = pending.filter((e) => e.kind === "violation");
  const pendingSubmit = pending.some((e) => e.kind === "submit");
  const open = t.status === "assigned" || t.status === "in_progress";
  const iSigned = await signedHere(id);
  const photoThumbs = {};
  for (const v of [...t.violations, ...pendingViolations.map((e) => e.body)]) {
    for (const sha of v.evidence_sha256 || []) {
      const photo = await store.get("photos", sha);
      if (photo) photoThumbs[sha] = photo.thumb;
    }
  }
  const violationItem = (v, isPending) => `<li class="violation">
      <span class="sev sev-${esc(v.severity || "")}">${esc(SEVERITY_ZH[v.severity] || "")}</span>
      <strong>${esc(v.title_zh || v.code)}</strong> <span class="code">${esc(v.code)}</span>
      <p>${esc(v.description)}</p>
      ${(v.evidence_sha256 || []).length ? `<p class="thumbs">${v.evidence_sha256.map((s) => (photoThumbs[s] ? `<img src="${photoThumbs[s]}" alt="证据照片" width="64" height="64">` : `<span class="photo-ref">照片 ${esc(s.slice(0, 8))}</span>`)).join("")}</p>` : ""}
      ${isPending ? '<span class="pending-tag">待同步</span>' : ""}
    </li>`;
  const checkins = t.checkins
    .map(
      (c) =>
        `<li>${esc(when(c.checked_in_at))} · 距登记地址 ${esc(shownDistance(c.distance_m))}${c.far_from_site ? ' · <span class="warn">远离现场</span>' : ""}</li>`,
    )
    .join("");
  // once submitted, the review status is what the inspector comes back for: it goes first
  const review = `<section class="card" aria-labelledby="h-review">
      <h2 id="h-review">审核状态</h2>
      <p id="review">${reviewText(t)}</p>
    </section>`;
  view.innerHTML = `
    ${open ? "" : review}
    ${offline ? `<p class="note">离线：显示本机保存的任务资料（${esc(when(cachedAt || ""))}）</p>` : ""}
    <section class="card">
      <p><span class="status status-${esc(t.status)}">${esc(STATUS_ZH[t.status] || t.status)}</span>
        ${esc(KIND_ZH[t.kind] || t.kind)} · 截止 ${esc(t.due_by)}</p>
      ${t.needs_reassignment ? problem("该任务正等待重新指派检查组：可以继续记录，但暂不能提交。请联系科室负责人。") : ""}
      ${factsBlock(t)}
    </section>
    <section class="card" aria-labelledby="h-checkin">
      <h2 id="h-checkin">到场签到</h2>
      ${checkins || pendingCheckins.length ? `<ul class="plain">${checkins}${pendingCheckins.map(() => '<li>已签到 <span class="pending-tag">待同步</span></li>').join("")}</ul>` : "<p>尚未签到</p>"}
      <p id="gps-status" role="status"></p>
      ${open ? '<button type="button" data-action="locate">获取位置并签到</button>' : ""}
    </section>
    <section class="card" aria-labelledby="h-checklist">
      <h2 id="h-checklist">检查表</h2>
      <p>已填写 <strong id="answered">${done}</strong> / ${total} 项</p>
      <progress max="${total}" value="${done}" aria-label="检查表进度">${done}/${total}</progress>
      <a class="button" href="#/task/${esc(id)}/checklist">${open ? "填写检查表" : "查看检查表"}</a>
    </section>
    <section class="card" aria-labelledby="h-violations">
      <h2 id="h-violations">违规记录（${t.violations.length + pendingViolations.length}）</h2>
      <ul class="plain">${t.violations.map((v) => violationItem(v, false)).join("")}${pendingViolations.map((e) => violationItem({ ...e.body, title_zh: e.label, severity: e.severity }, true)).join("")}</ul>
      ${open ? `<a class="button" href="#/task/${esc(id)}/violation">记录违规行为</a>` : ""}
    </section>
    <section class="card" aria-labelledby="h-team">
      <h2 id="h-team">检查组签名</h2>
      <ul class="plain">${t.members
        .map(
          (m) =>
            `<li>${esc(m.name || "检查员")}（执法证 ${esc(m.badge_number || "")}）· ${m.signed_at ? `已签名 ${esc(when(m.signed_at))}` : "未签名"}</li>`,
        )
        .join("")}</ul>
      ${pendingSubmit ? '<p>您的签名已保存 <span class="pending-tag">待同步</span></p>' : ""}
      ${iSigned && !pendingSubmit && open ? "<p>您已签名，等待其他组员签名。检查记录有改动时签名会失效，需要重新签名。</p>" : ""}
      ${open && !pendingSubmit ? `<button type="button" class="primary" data-action="submit" ${done < total ? "disabled" : ""}>签名并提交</button>${done < total ? `<p class="hint">还有 ${total - done} 项未填写，填完后才能签名提交。</p>` : ""}` : ""}
    </section>
    ${open ? review : ""}`;
  view.dataset.taskId = id;
  if (t.status === "reviewed" && !offline) showReview(t);
}

function reviewText(t) {
  if (t.status === "submitted") {
    return `检查组已全部签名提交，等待审核${t.publication_due ? `；结果应于 ${esc(t.publication_due)} 前公示` : ""}。`;
  }
  if (t.status === "reviewed") return "已审核，结果已公示。";
  return "尚未提交。全组签名提交后由科室负责人审核。";
}

async function showReview(t) {
  if (!t.institution) return;
  try {
    const answer = await request("GET", `/v1/public/inspection-results?institution=${t.institution.institution_id}&page_size=50`);
    const result = answer.body.items.find((r) => r.task_id === t.id);
    const el = document.getElementById("review");
    if (result && el) {
      el.textContent = `已审核，${result.published_on} 公示：${result.conclusion_zh}${result.summary_zh ? `。${result.summary_zh}` : ""}`;
    }
  } catch (err) {
    /* the line above stays */
  }
}

async function checklistScreen(id) {
  const { task: t } = await taskDetail(id);
  setTitle("检查表", `#/task/${id}`);
  const pending = await pendingFor(id);
  const findings = Object.fromEntries(t.findings.map((f) => [f.item_code, f]));
  for (const e of pending) if (e.kind === "findings") for (const it of e.body.items) findings[it.item_code] = { ...it, pending: true };
  const open = t.status === "assigned" || t.status === "in_progress";
  const areas = [];
  for (const item of t.checklist) {
    let area = areas.find((a) => a.name === item.area);
    if (!area) areas.push((area = { name: item.area, items: [] }));
    area.items.push(item);
  }
  const blocks = [];
  for (const area of areas) {
    const rows = [];
    for (const item of area.items) {
      const f = findings[item.item_code] || {};
      const noteDraft = await draft(`note:${id}:${item.item_code}`);
      const note = noteDraft !== null ? noteDraft : f.note || "";
      const photos = (await draft(`photos:${id}:${item.item_code}`)) || f.evidence_sha256 || [];
      const thumbs = [];
      for (const sha of photos) {
        const p = await store.get("photos", sha);
        thumbs.push(p ? `<img src="${p.thumb}" alt="证据照片" width="64" height="64">` : `<span class="photo-ref">照片 ${esc(sha.slice(0, 8))}</span>`);
      }
      const code = esc(item.item_code);
      rows.push(`<li class="item" data-item="${code}">
        <fieldset ${open ? "" : "disabled"}>
          <legend>${esc(item.item_zh)} <span class="code">${code}</span></legend>
          <p class="basis">依据：${esc(item.basis)}</p>
          <div class="choices">
            ${["pass", "fail", "not_applicable"]
              .map(
                (r) => `<label class="choice choice-${r}"><input type="radio" name="r-${code}" value="${r}" data-action="result" ${f.result === r ? "checked" : ""}> ${RESULT_ZH[r]}</label>`,
              )
              .join("")}
          </div>
          <label for="n-${code}">备注</label>
          <textarea id="n-${code}" rows="2" data-action="note" data-item="${code}">${esc(note)}</textarea>
          <p class="thumbs">${thumbs.join("")}</p>
          <label class="button small">拍照取证<input type="file" accept="image/*" capture="environment" data-action="photo" data-item="${code}" class="visually-hidden"></label>
          ${f.pending ? '<span class="pending-tag">待同步</span>' : ""}
        </fieldset>
      </li>`);
    }
    blocks.push(`<section class="card"><h2>${esc(area.name)}</h2><ol class="items">${rows.join("")}</ol></section>`);
  }
  view.innerHTML = blocks.join("") + `<p><a class="button" href="#/task/${esc(id)}">返回任务</a></p>`;
  view.dataset.taskId = id;
}

async function violationScreen(id) {
  const { task: t } = await taskDetail(id);
  setTitle("记录违规行为", `#/task/${id}`);
  const cat = await catalogue();
  const saved = (await draft(`violation:${id}`)) || { code: "", description: "", person_ref: "", photos: [], query: "" };
  const thumbs = [];
  for (const sha of saved.photos) {
    const p = await store.get("photos", sha);
    if (p) thumbs.push(`<img src="${p.thumb}" alt="证据照片" width="64" height="64">`);
  }
  const chosen = cat.items.find((v) => v.code === saved.code);
  view.innerHTML = `
    <section class="card">
      <label for="v-search">搜索违规行为（编码或关键词）</label>
      <input id="v-search" type="search" data-action="v-search" value="${esc(saved.query)}" autocomplete="off">
      <ul class="catalogue" id="v-list" aria-label="违规行为目录"></ul>
    </section>
    <section class="card" aria-labelledby="h-chosen">
      <h2 id="h-chosen">已选违规行为</h2>
      <div id="v-chosen">${chosen ? chosenBlock(chosen) : "<p>请在上方目录中选择</p>"}</div>
      <label for="v-description">情况描述（必填）</label>
      <textarea id="v-description" rows="4" data-action="v-description">${esc(saved.description)}</textarea>
      <label for="v-person">涉及人员（可选，证件号已脱敏）</label>
      <select id="v-person" data-action="v-person">
        <option value="">不涉及具体人员</option>
        ${t.staff.map((s) => `<option value="${esc(s.person_ref)}" ${s.person_ref === saved.person_ref ? "selected" : ""}>${esc(s.name)}（${esc(ROLE_ZH[s.role] || s.role)}，${esc(s.id_masked)}）</option>`).join("")}
      </select>
      <p class="thumbs" id="v-thumbs">${thumbs.join("")}</p>
      <label class="button small">拍照取证<input type="file" accept="image/*" capture="environment" data-action="v-photo" class="visually-hidden"></label>
      <p id="v-problem" role="alert"></p>
      <button type="button" class="primary" data-action="v-save">保存违规记录</button>
    </section>`;
  renderCatalogue(cat, saved.query, saved.code);
}

function chosenBlock(v) {
  return `<p><span class="sev sev-${esc(v.severity)}">${esc(SEVERITY_ZH[v.severity])}</span> <strong>${esc(v.title_zh)}</strong> <span class="code">${esc(v.code)}</span></p>
    <p class="basis">依据：${esc(v.basis)}${v.basis_verified ? "" : "（依据未核实，写入文书前须核对）"}</p>
    <p class="basis">整改期限：${esc(v.default_rectification_days)} 天</p>`;
}

function renderCatalogue(cat, query, selected) {
  const list = document.getElementById("v-list");
  if (!list) return;
  const q = (query || "").trim().toLowerCase();
  const words = q.split(/\s+/).filter(Boolean);
  const hits = cat.items.filter((v) => {
    const text = `${v.code} ${v.title_zh} ${v.basis}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  list.innerHTML = hits
    .slice(0, 40)
    .map(
      (v) => `<li><button type="button" class="pick ${v.code === selected ? "picked" : ""}" data-action="v-pick" data-code="${esc(v.code)}" aria-pressed="${v.code === selected}">
        <span class="sev sev-${esc(v.severity)}">${esc(SEVERITY_ZH[v.severity])}</span> ${esc(v.title_zh)} <span class="code">${esc(v.code)}</span>
        <span class="basis">${esc(v.basis)}</span></button></li>`,
    )
    .join("") || "<li>没有匹配的违规行为</li>";
}

async function syncScreen() {
  setTitle("待同步记录", "#/tasks");
  const list = await queue.entries();
  view.innerHTML = `
    <p>${queue.state.online && navigator.onLine ? "在线" : "离线"}：记录按录入顺序提交，每条都带有唯一编号，重复提交不会产生重复记录。</p>
    ${list.length ? "" : '<p class="empty">所有记录都已提交</p>'}
    <ol class="outbox">${list
      .map(
        (e) => `<li class="${e.state === "conflict" ? "conflict" : ""}">
          <strong>${esc(KINDS_ZH[e.kind] || e.kind)}</strong> ${esc(e.label || "")}
          <span class="task-meta">${esc(when(e.createdAt))}</span>
          ${
            e.state === "conflict"
              ? `<p class="problem" role="alert">未被接受：${esc(e.error.message)}</p><p>${esc(e.error.advice)}</p>
                 <button type="button" data-action="retry" data-seq="${e.seq}">重试</button>
                 <button type="button" class="danger" data-action="discard" data-seq="${e.seq}">丢弃这条</button>
                 <a href="#/task/${esc(e.taskId)}">查看任务</a>`
              : '<span class="pending-tag">待提交</span>'
          }
        </li>`,
      )
      .join("")}</ol>
    <button type="button" data-action="flush">立即提交</button>`;
}

// --- actions ----------------------------------------------------------------------------------------------

function taskIdHere() {
  return view.dataset.taskId;
}

async function recordFinding(taskId, itemCode) {
  const checked = view.querySelector(`input[name="r-${CSS.escape(itemCode)}"]:checked`);
  if (!checked) return; // a note without a result stays a draft until the result is chosen
  const noteField = document.getElementById(`n-${itemCode}`);
  const note = noteField ? noteField.value.trim() : "";
  const photos = (await draft(`photos:${taskId}:${itemCode}`)) || [];
  const item = { item_code: itemCode, result: checked.value, note: note || null, evidence_sha256: photos };
  await queue.enqueue({
    kind: "findings",
    taskId,
    method: "PUT",
    path: `/v1/tasks/${taskId}/findings`,
    body: { items: [item] },
    label: `${itemCode} ${RESULT_ZH[checked.value]}`,
  });
  await store.del("drafts", `note:${taskId}:${itemCode}`);
}

async function takePhoto(taskId, input, draftKey, onAdded) {
  const file = input.files && input.files[0];
  if (!file) return;
  const photo = await preparePhoto(file);
  await store.put("photos", { taskId, bytes: photo.bytes, mediaType: photo.mediaType, thumb: photo.thumb }, photo.sha256);
  await queue.enqueue({ kind: "photo", taskId, method: "POST", path: `/v1/tasks/${taskId}/evidence`, photo: photo.sha256, label: `${Math.round(photo.size / 1024)} KB` });
  await onAdded(photo);
  input.value = "";
}

async function saveViolation(taskId) {
  const d = (await draft(`violation:${taskId}`)) || {};
  const out = document.getElementById("v-problem");
  if (!d.code) {
    out.textContent = "请先在目录中选择违规行为";
    return;
  }
  if (!d.description || d.description.trim().length < 2) {
    out.textContent = "请填写情况描述（至少 2 个字）";
    document.getElementById("v-description").focus();
    return;
  }
  const cat = await catalogue();
  const kind = cat.items.find((v) => v.code === d.code);
  await queue.enqueue({
    kind: "violation",
    taskId,
    method: "POST",
    path: `/v1/tasks/${taskId}/violations`,
    body: {
      code: d.code,
      description: d.description.trim(),
      person_ref: d.person_ref || null,
      evidence_sha256: d.photos || [],
    },
    label: kind ? kind.title_zh : d.code,
    severity: kind ? kind.severity : null,
  });
  await store.del("drafts", `violation:${taskId}`);
  window.location.hash = `#/task/${taskId}`;
}

async function checkIn(taskId) {
  const status = document.getElementById("gps-status");
  status.textContent = "正在获取位置…";
  const { task: t } = await taskDetail(taskId);
  let here;
  try {
    here = await position();
  } catch (err) {
    status.textContent = err.message;
    return;
  }
  const site = siteOf(t);
  const distance = site ? distanceM(here.lat, here.lng, site.lat, site.lng) : null;
  const far = distance !== null && distance > CHECKIN_RADIUS_M;
  status.innerHTML = `${distance !== null ? `距机构登记地址约 <strong>${esc(shownDistance(distance))}</strong>` : "该场所没有登记坐标"}（定位精度约 ${Math.round(here.accuracy || 0)} 米）。
    ${far ? `<span class="warn">超过 ${CHECKIN_RADIUS_M} 米：签到会被标记为“远离现场”，审核人会看到这一标记。请确认您已在机构现场（如机构实际地址与登记不符，请在检查表备注中说明）。</span>` : ""}
    <button type="button" class="primary" data-action="checkin" data-lat="${here.lat}" data-lng="${here.lng}">${far ? "仍然签到" : "确认签到"}</button>`;
}

// Actions under way (set before the first await, so a test or a screen reader knows the app is working).
let busy = 0;
function working(delta) {
  busy += delta;
  document.body.dataset.busy = String(busy);
}

async function onClick(event) {
  const target = event.target.closest("[data-action]");
  if (!target || target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return;
  working(1);
  try {
    await clicked(target);
  } finally {
    working(-1);
  }
}

async function clicked(target) {
  const action = target.dataset.action;
  const taskId = taskIdHere();
  try {
    if (action === "paste-token") {
      await auth.usePastedToken(document.getElementById("token").value);
      window.location.hash = "#/tasks";
      await route();
    } else if (action === "oidc") {
      await auth.startSignIn();
    } else if (action === "sign-out") {
      const waiting = queue.state.pending;
      if (waiting && !window.confirm(`还有 ${waiting} 条记录未提交，退出后仍保存在本机，重新登录后继续提交。确定退出？`)) return;
      await auth.signOut();
      // another inspector may use this phone next: the tasks seen so far go with the sign-out
      await store.clear("tasks");
      await store.del("kv", "my-tasks");
      window.location.hash = "#/signin";
    } else if (action === "my-position") {
      await showMyPosition();
    } else if (action === "locate") {
      await checkIn(taskId);
    } else if (action === "checkin") {
      const body = { lat: Number(target.dataset.lat), lng: Number(target.dataset.lng) };
      await queue.enqueue({ kind: "checkin", taskId, method: "POST", path: `/v1/tasks/${taskId}/check-in`, body, label: "GPS 签到" });
      await route();
    } else if (action === "submit") {
      await queue.enqueue({ kind: "submit", taskId, method: "POST", path: `/v1/tasks/${taskId}/submit`, body: {}, label: "签名并提交" });
      await route();
    } else if (action === "v-pick") {
      const d = (await draft(`violation:${taskId}`)) || { photos: [] };
      d.code = target.dataset.code;
      await saveDraft(`violation:${taskId}`, d);
      const cat = await catalogue();
      document.getElementById("v-chosen").innerHTML = chosenBlock(cat.items.find((v) => v.code === d.code));
      renderCatalogue(cat, d.query, d.code);
      document.getElementById("v-description").focus();
    } else if (action === "v-save") {
      await saveViolation(taskId);
    } else if (action === "retry") {
      await queue.retry(Number(target.dataset.seq));
      await route();
    } else if (action === "discard") {
      if (window.confirm("丢弃后这条记录不会提交到平台，确定丢弃？")) {
        await queue.discard(Number(target.dataset.seq));
        await route();
      }
    } else if (action === "flush") {
      await queue.flush();
      await route();
    }
  } catch (err) {
    view.insertAdjacentHTML("afterbegin", problem(err.message));
  }
}

async function onInput(event) {
  const target = event.target;
  const taskId = taskIdHere();
  const action = target.dataset.action;
  // every keystroke is on the phone at once: a reload or a killed tab loses nothing typed
  if (action === "note") {
    await saveDraft(`note:${taskId}:${target.dataset.item}`, target.value);
  } else if (action === "v-description" || action === "v-search" || action === "v-person") {
    const d = (await draft(`violation:${taskId}`)) || { photos: [] };
    const field = { "v-description": "description", "v-search": "query", "v-person": "person_ref" }[action];
    d[field] = target.value;
    await saveDraft(`violation:${taskId}`, d);
    if (action === "v-search") renderCatalogue(await catalogue(), d.query, d.code);
  }
}

async function onChange(event) {
  working(1);
  try {
    await changedField(event.target);
  } finally {
    working(-1);
  }
}

async function changedField(target) {
  const taskId = taskIdHere();
  const action = target.dataset.action;
  try {
    if (action === "result") {
      await recordFinding(taskId, target.closest("[data-item]").dataset.item);
    } else if (action === "note") {
      await recordFinding(taskId, target.dataset.item);
    } else if (action === "photo") {
      const item = target.dataset.item;
      await takePhoto(taskId, target, `photos:${taskId}:${item}`, async (photo) => {
        const list = (await draft(`photos:${taskId}:${item}`)) || [];
        list.push(photo.sha256);
        await saveDraft(`photos:${taskId}:${item}`, list);
        await recordFinding(taskId, item);
        target.closest("fieldset").querySelector(".thumbs").insertAdjacentHTML("beforeend", `<img src="${photo.thumb}" alt="证据照片" width="64" height="64">`);
      });
    } else if (action === "v-photo") {
      await takePhoto(taskId, target, `violation:${taskId}`, async (photo) => {
        const d = (await draft(`violation:${taskId}`)) || { photos: [] };
        d.photos = [...(d.photos || []), photo.sha256];
        await saveDraft(`violation:${taskId}`, d);
        document.getElementById("v-thumbs").insertAdjacentHTML("beforeend", `<img src="${photo.thumb}" alt="证据照片" width="64" height="64">`);
      });
    }
  } catch (err) {
    view.insertAdjacentHTML("afterbegin", problem(err.message));
  }
}

// --- after a write was answered: the task as the service now has it -------------------------------------

// The answer of a check-in, findings or a violation is merged into the phone's copy of the task (no
// new download per tap); a signature changes the team and the status, so the task is read again.
queue.onSent(async (entry, body) => {
  if (entry.kind === "photo" || !body) return;
  if (entry.kind === "submit") {
    await store.put("kv", true, `signed:${entry.taskId}`);
    try {
      await getCached("tasks", entry.taskId, `/v1/tasks/${entry.taskId}`, { fresh: true });
      await getCached("kv", "my-tasks", "/v1/me/tasks", { fresh: true });
    } catch (err) {
      /* shown from the queue's copy until the next read */
    }
    return;
  }
  const cached = await store.get("tasks", entry.taskId);
  if (!cached) return;
  const task = cached.body;
  if (entry.kind === "checkin") task.checkins = [...task.checkins, body];
  else if (entry.kind === "findings") task.findings = body.items;
  else if (entry.kind === "violation") task.violations = [...task.violations.filter((v) => v.id !== body.id), body];
  if (task.status === "assigned") task.status = "in_progress";
  // the copy is no longer what the tag named: the next open downloads the task once
  await store.put("tasks", { ...cached, body: task, etag: null }, entry.taskId);
});

let refreshTimer = null;
queue.onChange(() => {
  document.body.dataset.pending = String(queue.state.pending);
  showBanner();
  // the screen of a task shows what has been sent since: redraw it (not while someone types)
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const active = document.activeElement;
    const typing = active && (active.tagName === "TEXTAREA" || (active.tagName === "INPUT" && active.type !== "radio" && active.type !== "file"));
    const hash = window.location.hash;
    if (!typing && (/^#\/task\/[^/]+$/.test(hash) || hash === "#/sync")) route();
  }, 300);
});

// --- routing ----------------------------------------------------------------------------------------------

async function route() {
  renderSeq += 1;
  const hash = window.location.hash || "#/tasks";
  if (taskMap) {
    taskMap.city.map.remove();
    taskMap = null;
  }
  view.setAttribute("aria-busy", "true");
  try {
    me = await auth.signedIn();
    if (!me || me.expired) {
      await signInScreen(me && me.expired ? "登录已过期，请重新登录（未提交的记录仍保存在本机）" : signInError);
      return;
    }
    let m;
    if (hash === "#/tasks/map") await taskMapScreen();
    else if ((m = hash.match(/^#\/tasks(?:\/(today|week|later|done))?$/))) await tasksScreen(m[1]);
    else if ((m = hash.match(/^#\/task\/([0-9a-f-]{36})$/))) await taskScreen(m[1]);
    else if ((m = hash.match(/^#\/task\/([0-9a-f-]{36})\/checklist$/))) await checklistScreen(m[1]);
    else if ((m = hash.match(/^#\/task\/([0-9a-f-]{36})\/violation$/))) await violationScreen(m[1]);
    else if (hash === "#/sync") await syncScreen();
    else if (hash === "#/signin") await signInScreen(null);
    else await tasksScreen();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      await signInScreen("登录已过期或无效，请重新登录（未提交的记录仍保存在本机）");
    } else if (err instanceof ApiError && err.status === 404 && hash.startsWith("#/tasks")) {
      // opened from another service's /ui/ (they serve the same pages): the API is the inspection service's
      view.innerHTML = problem("此页面须从检查服务打开（检查服务地址/ui/inspector/，开发环境端口 8002）");
    } else {
      view.innerHTML = problem(err.message || String(err));
    }
  } finally {
    view.setAttribute("aria-busy", "false");
    view.dataset.route = hash;
    await showBanner();
  }
}

async function start() {
  document.addEventListener("click", onClick);
  document.addEventListener("input", onInput);
  document.addEventListener("change", onChange);
  window.addEventListener("hashchange", route);
  try {
    if (await auth.finishSignIn()) window.location.hash = "#/tasks";
  } catch (err) {
    signInError = err.message;
  }
  await queue.count();
  document.body.dataset.pending = String(queue.state.pending);
  document.body.dataset.busy = String(busy);
  await route();
  queue.flush();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("./sw.js", { scope: "./" }).catch(() => {});
  }
  document.body.dataset.ready = "true";
  document.body.dataset.api = BASE;
}

start();
