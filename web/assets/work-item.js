// One queue item with its action, by kind: decide a filing or a key change (filing), review a task
// (inspection), record a rectification report (inspection), triage a complaint (inspection), decide a
// credit repair (credit), end a suspension (暂停收托: one officer proposes, a second confirms). Each
// action is confirmed in a <dialog> and calls the existing API; a refusal shows the API's own Chinese
// message (e.g. the second-person rule of shared/duties.py).
import { beijingDate } from "./common.js";
import { SERVICE_ZH, call, confirmDialog, el, queueHref, requireOfficer } from "./work.js";

const who = requireOfficer();
const params = new URLSearchParams(window.location.search);
const service = params.get("service");
const queue = params.get("queue");
const kind = params.get("kind");
const id = params.get("id");
const link = params.get("link") || "";
const status = document.getElementById("status");
const details = document.getElementById("details");
const actionBox = document.getElementById("action");
const form = document.getElementById("action-form");
const errorBox = document.getElementById("action-error");
const doneBox = document.getElementById("action-done");

const STATUS_ZH = {
  submitted: "已提交待决定", filed: "已备案", returned: "退回补正", rejected: "不予备案", deregistered: "已注销",
  suspended: "暂停", pending: "待决定", approved: "已批准", refused: "已驳回", received: "已受理待分办",
  triaged: "已分办", reviewed: "已审核", assigned: "已分派", in_progress: "检查中", confirmed: "已确认",
  rectification_reported: "已报整改", closed: "已关闭", escalated: "逾期未整改", recorded: "待审核确认",
};
const TASK_STATUS_ZH = { assigned: "已分派", in_progress: "检查中", submitted: "已提交待审核", reviewed: "已审核公开" };
const SEVERITY_ZH = { minor: "轻微", general: "一般", serious: "严重", critical: "特别严重" };

function facts(rows) {
  const dl = el("dl", { class: "facts" });
  for (const [label, value] of rows) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(el("dt", { text: label }), el("dd", { text: String(value) }));
  }
  return dl;
}

function card(title, ...children) {
  const headingId = `h-${Math.random().toString(36).slice(2, 8)}`;
  return el("section", { class: "card", "aria-labelledby": headingId }, el("h2", { id: headingId, text: title }), ...children);
}

function field(labelText, control, hint) {
  const wrap = el("div", { class: "field" });
  wrap.append(el("label", { for: control.id, text: labelText }), control);
  if (hint) {
    const hintId = `${control.id}-hint`;
    wrap.append(el("p", { class: "hint", id: hintId, text: hint }));
    control.setAttribute("aria-describedby", hintId);
  }
  return wrap;
}

function choices(legend, name, options) {
  const set = el("fieldset", { class: "choices" }, el("legend", { text: legend }));
  options.forEach(([value, label], n) => {
    const input = el("input", { type: "radio", name, id: `${name}-${value}`, value });
    if (n === 0) input.checked = true;
    set.append(el("div", { class: "choice" }, input, el("label", { for: input.id, text: label })));
  });
  return set;
}

function textarea(idName, { required = false, max = 1000 } = {}) {
  const area = el("textarea", { id: idName, name: idName, rows: "3", maxlength: String(max) });
  if (required) area.setAttribute("aria-required", "true");
  return area;
}

function chosen(name, within = form) {
  const input = within.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

function showError(message, box = errorBox) {
  box.textContent = message;
  box.hidden = false;
  box.setAttribute("tabindex", "-1");
  box.focus();
}

// The page's own action section (work/item.html); a second one is built when a page offers two actions.
const MAIN_ACTION = {
  box: actionBox,
  title: document.getElementById("action-title"),
  form,
  errorBox,
  doneBox,
  buttonId: "act",
};

/** Another action section after the page's own, alike (heading, form, error, outcome). */
function secondAction(prefix) {
  const title = el("h2", { id: `${prefix}-title` });
  const second = {
    title,
    form: el("form", { id: `${prefix}-form`, novalidate: "" }),
    errorBox: el("div", { id: `${prefix}-error`, class: "error", role: "alert", hidden: "" }),
    doneBox: el("p", { id: `${prefix}-done`, class: "done", role: "status", hidden: "" }),
    buttonId: `${prefix}-act`,
  };
  second.box = el("section", { id: prefix, class: "card", "aria-labelledby": title.id }, title, second.form, second.errorBox, second.doneBox);
  actionBox.after(second.box);
  return second;
}

/** The action form: fields, a submit button; confirm, call, then show the outcome (or the API's error). */
function actionForm(title, fields, submitLabel, { describe, send, done }, target = MAIN_ACTION) {
  const { form: box, errorBox: errors, doneBox: outcome, buttonId } = target;
  target.title.textContent = title;
  box.replaceChildren(...fields, el("button", { type: "submit", id: buttonId, text: submitLabel }));
  target.box.hidden = false;
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.hidden = true;
    outcome.hidden = true;
    let request;
    try {
      request = describe();
    } catch (err) {
      showError(err.message, errors);
      return;
    }
    if (!(await confirmDialog(`确认${title}`, request.question, request.confirm))) return;
    const button = document.getElementById(buttonId);
    button.disabled = true;
    try {
      const answer = await send(request);
      box.hidden = true;
      outcome.textContent = done(answer, request);
      outcome.hidden = false;
      outcome.setAttribute("tabindex", "-1");
      outcome.focus();
    } catch (err) {
      showError(err.message, errors);
      button.disabled = false;
    }
  });
}

// --- filing: a submission or a pending key change ---------------------------------------------------

// The key fields of a change (变更), as the filing profile names them.
const CHANGE_FIELD_ZH = {
  address: "地址", district_code: "所在区", street_code: "所在街道", latitude: "纬度", longitude: "经度",
  operating_model: "办托模式", organiser_type: "举办主体类型", classes: "班级设置", total_slots: "托位数",
  puhui_slots: "普惠托位数", premises_area_m2: "建筑面积（平方米）", outdoor_area_m2: "户外活动场地面积（平方米）",
  meals: "提供膳食", documents: "备案材料",
};

function changeValue(value) {
  if (typeof value === "boolean") return value ? "是" : "否";
  if (Array.isArray(value)) return `${value.length} 项`;
  if (value && typeof value === "object") return JSON.stringify(value);
  return value;
}

async function filing() {
  // a change item's id is the change's; its link is the institution, which the decision is made on
  const path = kind === "change" ? link : `/v1/institutions/${id}`;
  const inst = await call("filing", path);
  const change = inst.pending_change;
  setTitle(`${kind === "change" ? "变更决定" : "备案决定"}：${inst.name}`);
  details.append(
    card(
      "机构信息",
      facts([
        ["机构名称", inst.name],
        ["统一社会信用代码", inst.uscc],
        ["所在区", inst.district_name || inst.district_code],
        ["地址", inst.address],
        ["办托模式", inst.operating_model_zh],
        ["状态", STATUS_ZH[inst.status] || inst.status],
        ["决定期限", change ? change.decision_due : inst.decision_due],
        ["托位数", inst.total_capacity ?? inst.capacity],
      ]),
    ),
  );
  const isChange = kind === "change";
  if (isChange && change && change.change_id === id) {
    details.append(
      card(
        "申请变更事项",
        facts(Object.entries(change.changes).map(([name, value]) => [CHANGE_FIELD_ZH[name] || name, changeValue(value)])),
        el("p", { class: "meta", text: `申请时间：${beijingDate(change.requested_at)}` }),
      ),
    );
  }
  const open = isChange ? Boolean(change) && change.change_id === id : inst.status === "submitted";
  if (!open) {
    status.textContent = "该事项已办结。";
    return;
  }
  const reason = textarea("reason");
  // the API's decisions (file, return, reject) apply to the pending change as to a submission
  const labels = isChange
    ? { file: "予以变更备案", return: "退回补正", reject: "不予变更备案" }
    : { file: "予以备案", return: "退回补正", reject: "不予备案" };
  actionForm(
    isChange ? "作出变更决定" : "作出备案决定",
    [
      choices("决定", "decision", Object.entries(labels)),
      field(`理由（退回补正、${labels.reject}时必填）`, reason, "理由将告知举办者。"),
    ],
    "提交决定",
    {
      describe() {
        const decision = chosen("decision");
        const text = reason.value.trim();
        if (decision !== "file" && !text) throw new Error(`退回补正或${labels.reject}须填写理由`);
        const label = labels[decision];
        return {
          body: { decision, reason: text || null },
          question: `对“${inst.name}”${isChange ? "的变更申请" : ""}作出决定：${label}。决定作出后将通知举办者并对外公示。`,
          confirm: `确认${label}`,
          label,
        };
      },
      send: (request) => call("filing", `/v1/institutions/${inst.id}/decision`, { method: "POST", body: request.body }),
      done: (answer, request) => `已作出决定：${request.label}（当前状态：${STATUS_ZH[answer.status] || answer.status}）`,
    },
  );
}

// --- inspection: review a submitted task -------------------------------------------------------------

function violationList(violations, { dismissable }) {
  const list = el("ul", { class: "violations" });
  for (const v of violations) {
    const text = `${v.title_zh}（${SEVERITY_ZH[v.severity] || v.severity}）— ${v.legal_basis}`;
    const li = el("li", { "data-violation": v.id });
    if (dismissable) {
      const box = el("input", { type: "checkbox", id: `dismiss-${v.id}`, name: "dismiss", value: v.id });
      li.append(box, el("label", { for: box.id, text: `不予确认：${text}` }));
    } else {
      li.append(el("span", { text }));
    }
    li.append(el("p", { class: "meta", text: `状态：${STATUS_ZH[v.status] || v.status}${v.rectification_due ? `；整改期限 ${v.rectification_due}` : ""}` }));
    list.append(li);
  }
  return list;
}

async function task() {
  const t = await call("inspection", `/v1/tasks/${id}`);
  const name = t.institution ? t.institution.name : "无证经营场所";
  setTitle(`审核检查结果：${name}`);
  details.append(
    card(
      "检查任务",
      facts([
        ["检查对象", name],
        ["所在区", t.institution ? t.institution.district_name : null],
        ["检查类型", t.kind === "random" ? "双随机抽查" : t.reason === "follow_up" ? "整改复查" : "定向检查"],
        ["状态", TASK_STATUS_ZH[t.status] || t.status],
        ["公开期限", t.publication_due],
        ["检查人员", t.members.map((m) => m.name).filter(Boolean).join("、")],
        ["发现问题", `${t.violations.length} 项`],
      ]),
    ),
  );
  if (t.status !== "submitted") {
    status.textContent = "该任务已审核。";
    return;
  }
  const summary = textarea("summary", { max: 2000 });
  const fields = [];
  if (t.violations.length) {
    fields.push(el("fieldset", { class: "choices" }, el("legend", { text: "确认违规事项（勾选不予确认的事项）" }), violationList(t.violations, { dismissable: true })));
  } else {
    fields.push(el("p", { text: "检查未发现问题，审核后公开检查结论为合格。" }));
  }
  if (t.reason === "follow_up") fields.push(choices("复查结论", "rectified", [["true", "整改到位"], ["false", "未整改到位"]]));
  fields.push(field("公开的检查摘要（选填）", summary, "将随检查结果向社会公开，请勿填写个人信息。"));
  actionForm("审核并公开检查结果", fields, "审核并公开", {
    describe() {
      const dismissed = [...form.querySelectorAll('input[name="dismiss"]:checked')].map((box) => box.value);
      const body = { dismissed_violation_ids: dismissed };
      if (summary.value.trim()) body.summary_zh = summary.value.trim();
      if (t.reason === "follow_up") body.follow_up_rectified = chosen("rectified") === "true";
      const confirmed = t.violations.length - dismissed.length;
      return {
        body,
        question: `确认 ${confirmed} 项违规、不予确认 ${dismissed.length} 项，并向社会公开“${name}”的检查结果。`,
        confirm: "确认公开",
      };
    },
    send: (request) => call("inspection", `/v1/tasks/${id}/review`, { method: "POST", body: request.body }),
    done: (answer) => `已审核并公开：确认违规 ${answer.confirmed_violation_ids.length} 项。`,
  });
}

// --- inspection: a violation's rectification report ----------------------------------------------------

async function violation() {
  const t = await call("inspection", link);
  const v = t.violations.find((x) => x.id === id);
  if (!v) throw new Error("未找到该违规事项");
  const name = t.institution ? t.institution.name : "无证经营场所";
  setTitle(`整改：${name}`);
  details.append(card("违规事项", violationList([v], { dismissable: false })));
  if (v.status !== "confirmed" || !["rectifications_due", "rectifications_overdue"].includes(queue)) {
    status.textContent = v.status === "confirmed" ? "该事项需安排检查处置，请在检查计划中办理。" : "该事项已登记整改或已关闭。";
    return;
  }
  actionForm("登记整改报告", [el("p", { text: "登记机构已提交整改报告；登记后将安排复查核实整改情况。" })], "登记整改报告", {
    describe: () => ({ body: { evidence_sha256: [] }, question: `登记“${name}”就“${v.title_zh}”的整改报告。`, confirm: "确认登记" }),
    send: (request) => call("inspection", `/v1/violations/${id}/rectification`, { method: "POST", body: request.body }),
    done: () => "已登记整改报告，待复查核实。",
  });
}

// --- inspection: triage a complaint -------------------------------------------------------------------

async function complaint() {
  const c = await call("inspection", `/v1/complaints/${id}`);
  setTitle(`分办投诉：${c.institution_name || c.address || c.district_name}`);
  details.append(
    card(
      "投诉内容",
      facts([
        ["类别", c.category_zh],
        ["被投诉对象", c.institution_name || c.operator_name || c.address],
        ["所在区", c.district_name],
        ["受理时间", c.received_at ? beijingDate(c.received_at) : null],
        ["状态", STATUS_ZH[c.status] || c.status],
      ]),
      el("p", { class: "complaint-text", text: c.description }),
    ),
  );
  if (c.status !== "received") {
    status.textContent = "该投诉已分办。";
    return;
  }
  const reason = textarea("reason", { required: true });
  const reply = textarea("public-reply", { max: 500 });
  const agency = el("input", { type: "text", id: "referred-to", name: "referred-to", maxlength: "100" });
  const options = [["referral", "转交有关部门办理"], ["close", "不予立案，办结"]];
  if (c.about === "address") options.push(["open_unlicensed_case", "立案查处无证经营"]);
  actionForm(
    "分办投诉",
    [
      choices("分办方式", "triage", options),
      field("承办部门（转交时必填）", agency),
      field("分办理由（内部）", reason, "不对外公开。"),
      field("给投诉人的答复（选填）", reply, "将向投诉人公开，请勿填写个人信息。"),
    ],
    "提交分办",
    {
      describe() {
        const action = chosen("triage");
        const body = { action, reason: reason.value.trim() };
        if (body.reason.length < 2) throw new Error("请填写分办理由（至少2个字）");
        if (action === "referral") {
          if (!agency.value.trim()) throw new Error("转交办理须填写承办部门");
          body.referred_to = agency.value.trim();
        }
        if (reply.value.trim()) body.public_reply = reply.value.trim();
        const label = options.find(([value]) => value === action)[1];
        return { body, question: `对该投诉：${label}。`, confirm: "确认分办", label };
      },
      send: (request) => call("inspection", `/v1/complaints/${id}/triage`, { method: "POST", body: request.body }),
      done: (_answer, request) => `已分办：${request.label}。`,
    },
  );
}

// --- credit: decide a repair application ------------------------------------------------------------

const LINE_STATUS_ZH = { counting: "计分中", capped: "计分中（已达上限）", repaired: "已修复", expired: "已届满" };

/** The credit record of a repair's subject (institution or person): its score, grade and the entry. */
function creditRecord(r) {
  const path = r.subject_kind === "institution" ? "institutions" : "persons";
  return call("credit", `/v1/credit/${path}/${encodeURIComponent(r.subject_id)}`);
}

function gradeText(record) {
  return `${record.score} 分（${record.grade ? `${record.grade} 级，${record.grade_title}` : "未评级"}）`;
}

async function repair() {
  const r = await call("credit", `/v1/credit/repairs/${id}`);
  const record = await creditRecord(r);
  const line = record.lines.find((l) => l.entry_id === r.entry_id);
  const subject = r.subject_kind === "institution" ? record.display_name || "托育机构" : "从业人员";
  setTitle(`信用修复决定：${subject}`);
  details.append(
    card(
      "修复申请",
      facts([
        ["申请主体", r.subject_kind === "institution" ? subject : "从业人员（个人信息不予显示）"],
        ["申请修复的失信信息", line ? line.rule_title || line.explanation : null],
        ["认定时间", line && line.effective_from ? beijingDate(line.effective_from) : null],
        ["依据", line ? line.legal_basis : null],
        ["计分", line ? `${line.points} 分（${LINE_STATUS_ZH[line.status] || line.status}）` : null],
        ["当前信用分", gradeText(record)],
        ["申请时间", r.applied_at ? beijingDate(r.applied_at) : null],
        ["信用承诺", r.commitment],
        ["证明材料", `${r.evidence_sha256.length} 份`],
        ["状态", STATUS_ZH[r.status] || r.status],
      ]),
    ),
  );
  if (r.status !== "pending") {
    status.textContent = "该申请已作出决定。";
    return;
  }
  const reason = textarea("reason", { required: true, max: 2000 });
  actionForm(
    "作出信用修复决定",
    [choices("决定", "decision", [["approve", "准予修复"], ["refuse", "不予修复"]]), field("决定理由", reason)],
    "提交决定",
    {
      describe() {
        const decision = chosen("decision");
        if (!reason.value.trim()) throw new Error("请填写决定理由");
        const label = decision === "approve" ? "准予修复" : "不予修复";
        return { body: { decision, reason: reason.value.trim() }, question: `对该信用修复申请：${label}。`, confirm: `确认${label}`, label };
      },
      async send(request) {
        const answer = await call("credit", `/v1/credit/repairs/${id}/decision`, { method: "POST", body: request.body });
        // an approval re-grades the subject at once: show the score it has now
        return { answer, record: await creditRecord(r) };
      },
      done: ({ record: after }, request) => `已作出决定：${request.label}。当前信用分 ${gradeText(after)}。`,
    },
  );
}

// --- filing: a staff member's certificates or training hours (what is due; no action here) -----------

async function staff() {
  // The roster's list view: the ID number masked. The detail answer would give a district's filing
  // officer the clear number, which nothing on this page needs (data minimisation).
  // the item's link is /v1/institutions/{institution}/staff/{id}; both queues list current staff only
  const institutionId = link.split("/")[3];
  const roster = await call("filing", `/v1/institutions/${encodeURIComponent(institutionId)}/staff`);
  const member = (roster.items || []).find((m) => m.id === id);
  if (!member) throw new Error("未找到该人员，可能已离职或已被移出名册。");
  setTitle(kind === "staff_training" ? "培训学时不足" : "证件即将到期");
  details.append(
    card(
      "人员信息",
      facts([
        ["姓名", member.name],
        ["身份证号", member.id_masked],
        ["岗位", member.role_zh],
        ["入职日期", member.hired_on],
        ["培训学时", `${member.training_hours} 学时`],
        ["健康证到期", member.health_certificate_expires_on],
        ...member.certificates.map((c) => [c.kind, c.expires_on ? `有效期至 ${c.expires_on}` : "长期有效"]),
      ]),
    ),
  );
  status.textContent = "请督促机构补齐并在备案系统中更新人员信息。";
}

// --- filing: a suspension (暂停收托) ended by two officers: one proposes, another confirms -------------

const OUTCOME_ZH = { resume: "恢复收托", deregister: "注销备案" };
const OUTCOME_EFFECT_ZH = {
  resume: "确认后该机构恢复为已备案状态，重新在公开名录中列出。",
  deregister: "确认后注销该机构备案，并对外公示。",
};

// A suspension item's id is the institution's: it is read and decided by that id (not by the URL's
// link), so the institution the dialog names is the one the decision acts on.
const suspensionPath = `/v1/institutions/${encodeURIComponent(id || "")}/suspension`;

async function suspension() {
  // the item's id is the institution's; its link is the suspension
  const [inst, s] = await Promise.all([call("filing", `/v1/institutions/${encodeURIComponent(id)}`), call("filing", suspensionPath)]);
  setTitle(`暂停收托处理：${inst.name}`);
  details.append(
    card(
      "暂停收托",
      facts([
        ["机构名称", inst.name],
        ["所在区", inst.district_name || inst.district_code],
        ["状态", s.institution_status === "suspended" ? s.status_zh : STATUS_ZH[s.institution_status] || s.institution_status],
        ["暂停收托日期", beijingDate(s.suspended_at)],
        ["暂停原因", s.reason],
        ["依据", s.legal_basis],
        // every confirmed case of this suspension (ids and dates only), not just the one that began it
        ["确认的虐童事件", `${s.case_count} 起（确认日期：${s.cases.map((c) => beijingDate(c.confirmed_at)).join("、")}）`],
      ]),
    ),
  );
  if (s.proposed_outcome && !s.decided_at) {
    details.append(
      card(
        "待确认的处理意见",
        facts([
          ["处理意见", s.proposed_outcome_zh || OUTCOME_ZH[s.proposed_outcome]],
          ["理由", s.proposal_reason],
          ["提出时间", s.proposed_at ? beijingDate(s.proposed_at) : null],
        ]),
      ),
    );
  }
  if (s.decided_at || s.institution_status !== "suspended") {
    status.textContent = s.outcome_zh ? `该事项已办结：${s.outcome_zh}。` : "该事项已办结。";
    return;
  }
  const mine = s.proposed_by && s.proposed_by === who.claims.sub;
  if (mine) {
    // four-eyes: the proposer is not offered the confirmation (the API refuses it all the same)
    status.textContent = `您已提出“${OUTCOME_ZH[s.proposed_outcome]}”的意见，待本辖区另一名备案人员确认。`;
    return;
  }
  if (!s.proposed_outcome) {
    proposalForm(inst, "提出处理意见", "提出意见");
    return;
  }
  const label = OUTCOME_ZH[s.proposed_outcome];
  actionForm(
    "确认处理意见",
    [el("p", { text: `本辖区备案人员已提出“${label}”的意见。请核实后确认；如不同意，可在下方重新提出意见（替换原意见）。` })],
    "确认决定",
    {
      describe: () => ({
        body: { outcome: s.proposed_outcome },
        question: `对“${inst.name}”作出决定：${label}。${OUTCOME_EFFECT_ZH[s.proposed_outcome]}`,
        confirm: `确认${label}`,
        label,
      }),
      send: (request) => call("filing", `${suspensionPath}/decision`, { method: "POST", body: request.body }),
      done: (answer, request) =>
        `已作出决定：${request.label}（当前状态：${STATUS_ZH[answer.institution_status] || answer.institution_status}）`,
    },
  );
  // a second officer who disagrees replaces the proposal (and then needs a third's confirmation)
  proposalForm(inst, "重新提出处理意见", "提出新意见", secondAction("counter-proposal"));
}

function proposalForm(inst, title, submitLabel, target = MAIN_ACTION) {
  const reason = textarea(`${target.buttonId}-reason`, { required: true, max: 1000 });
  actionForm(
    title,
    [
      choices("处理意见", `${target.buttonId}-outcome`, Object.entries(OUTCOME_ZH)),
      field("理由", reason, "须由本辖区另一名备案人员确认后生效（四眼原则）。"),
    ],
    submitLabel,
    {
      describe() {
        const outcome = chosen(`${target.buttonId}-outcome`, target.form);
        const text = reason.value.trim();
        if (text.length < 2) throw new Error("请填写理由（至少2个字）");
        const label = OUTCOME_ZH[outcome];
        return {
          body: { outcome, reason: text },
          question: `对“${inst.name}”提出意见：${label}。意见须由本辖区另一名备案人员确认后生效。`,
          confirm: `确认提出${label}意见`,
          label,
        };
      },
      send: (request) => call("filing", `${suspensionPath}/proposal`, { method: "POST", body: request.body }),
      done: (_answer, request) => `已提出意见：${request.label}，待本辖区另一名备案人员确认。`,
    },
    target,
  );
}

// --- other kinds: what the item is, and where its action lives ----------------------------------------

// What the generic page shows of an answer: these fields only, by their Chinese labels (an answer
// may carry personal data — a complainant's contact, a person's name — which nothing here needs).
const GENERIC_FIELDS = [
  ["institution_name", "机构名称"],
  ["district_name", "所在区"],
  ["year", "年度"],
  ["status", "状态"],
  ["due_date", "期限"],
  ["deadline", "期限"],
  ["list_name_zh", "名单"],
  ["reason_zh", "原因"],
];

async function other() {
  const answer = link ? await call(service, link) : null;
  setTitle("待办事项");
  const rows =
    answer && typeof answer === "object"
      ? GENERIC_FIELDS.filter(([key]) => typeof answer[key] === "string" || typeof answer[key] === "number").map(([key, label]) => [
          label,
          key === "status" ? STATUS_ZH[answer[key]] || answer[key] : answer[key],
        ])
      : [];
  details.append(card("事项信息", rows.length ? facts(rows) : el("p", { text: "事项说明见待办列表。" })));
  status.textContent = "此类事项请在相应业务系统中办理。";
}

function setTitle(text) {
  document.getElementById("item-title").textContent = text;
  document.title = `${text} — 托育监管工作台`;
}

const PAGES = { filing, change: filing, task, violation, complaint, credit_repair: repair, staff_certificate: staff, staff_training: staff, suspension };

if (who) {
  const back = document.getElementById("back");
  if (service && queue) {
    back.href = queueHref(service, queue);
    back.textContent = `← 返回${SERVICE_ZH[service] || ""}待办列表`;
  }
  (PAGES[kind] || other)()
    .then(() => {
      if (status.textContent === "正在加载……") status.textContent = "";
      status.dataset.ready = "true";
    })
    .catch((err) => {
      status.textContent = err.message;
      status.classList.add("error");
      status.dataset.ready = "true";
    });
}
