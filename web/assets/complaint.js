// 投诉举报: the public complaint form (inspection's POST /v1/public/complaints), about the institution
// whose record it was opened from (?institution=<id>). Anonymous unless a contact is given, which only
// the officers handling it see; the answer is a receipt code to follow it by.
import { ApiError, esc, fmt, getJson, param, postJson, setStatus } from "./common.js";

const form = document.getElementById("complaint");
const status = document.getElementById("status");
const about = document.getElementById("about");
const institutionId = param("institution");
let institution = null;

async function start() {
  if (institutionId) {
    try {
      institution = await getJson("filing", `/v1/public/institutions/${encodeURIComponent(institutionId)}`);
      about.innerHTML = `投诉对象：<a href="institution.html?id=${encodeURIComponent(institution.id)}">${esc(institution.name)}</a>（${esc(institution.district.name)}）`;
    } catch (err) {
      setStatus(status, err instanceof ApiError && err.status === 404 ? "未找到该机构；仍可提交投诉并说明地址。" : `加载失败：${err.message}`, true);
    }
  }
  document.body.dataset.ready = "true";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { category: form.elements.category.value, description: form.elements.description.value.trim() };
  if (institution) body.institution_id = institution.id;
  const contact = form.elements.contact.value.trim();
  if (contact) body.contact = contact;
  const button = form.querySelector("button");
  button.disabled = true;
  setStatus(status, "正在提交…");
  try {
    const out = await postJson("inspection", "/v1/public/complaints", body);
    document.getElementById("receipt-code").textContent = out.receipt;
    document.getElementById("receipt-meta").textContent = `受理日期 ${fmt.date(out.received_on)} · 状态 ${out.status_zh}`;
    form.hidden = true;
    setStatus(status, "");
    const receipt = document.getElementById("receipt");
    receipt.hidden = false;
    receipt.focus();
  } catch (err) {
    setStatus(status, `提交失败：${err.message}`, true);
  } finally {
    button.disabled = false;
  }
});

start();
