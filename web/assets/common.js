// Shared helpers of the pages. Everything is fetched from the platform's own services; nothing from
// outside the machine. The pages are served by the filing service (…:8001/ui/); the other services
// listen on the next ports (inspection +1, credit +2, reporting +3), as ./dev run starts them. A
// deployment behind one reverse proxy sets window.CHILDCARE_API = {filing: "", inspection: "", …}
// (same origin) in assets/config.js.

const here = new URL(window.location.href);
const filingPort = Number(here.port || (here.protocol === "https:" ? 443 : 80));
const hostBase = `${here.protocol}//${here.hostname}`;

function defaultBases() {
  return {
    filing: here.origin,
    inspection: `${hostBase}:${filingPort + 1}`,
    credit: `${hostBase}:${filingPort + 2}`,
    reporting: `${hostBase}:${filingPort + 3}`,
  };
}

export const API = { ...defaultBases(), ...(window.CHILDCARE_API || {}) };

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET a JSON document from one of the services. */
export async function getJson(service, path, params = {}, token = null) {
  const url = new URL(path, API[service] || here.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch (err) {
    throw new ApiError(0, "无法连接服务，请确认平台已启动", "network");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `服务返回错误（${response.status}）`;
    throw new ApiError(response.status, message, body && body.error ? body.error.code : "http");
  }
  return body;
}

/** POST a JSON body to one of the services' public write paths (no token): the complaint form. */
export async function postJson(service, path, body) {
  let response;
  try {
    response = await fetch(new URL(path, API[service] || here.origin), {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "无法连接服务，请确认平台已启动", "network");
  }
  let out = null;
  try {
    out = await response.json();
  } catch (err) {
    out = null;
  }
  if (!response.ok) {
    const error = out && out.error;
    const detail = error && error.errors && error.errors.length ? error.errors.map((e) => e.message).join("；") : null;
    throw new ApiError(response.status, detail || (error ? error.message : `服务返回错误（${response.status}）`), error ? error.code : "http");
  }
  return out;
}

/** Every page of a paged list (page/page_size/total/items). */
export async function getAll(service, path, params = {}, pageSize = 100, maxPages = 200) {
  const items = [];
  for (let page = 1; page <= maxPages; page += 1) {
    const out = await getJson(service, path, { ...params, page, page_size: pageSize });
    items.push(...out.items);
    if (page * pageSize >= out.total || out.items.length === 0) break;
  }
  return items;
}

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const BEIJING_DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });

/** The Beijing calendar date (YYYY-MM-DD) of a timestamp, whatever the browser's own time zone. */
export function beijingDate(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso).slice(0, 10) : BEIJING_DAY.format(when);
}

export const fmt = {
  int: (n) => (n === null || n === undefined || Number.isNaN(n) ? "—" : Math.round(n).toLocaleString("zh-CN")),
  num: (n, digits = 2) => (n === null || n === undefined || Number.isNaN(n) ? "—" : Number(n).toFixed(digits)),
  pct: (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? "—" : `${(Number(n) * 100).toFixed(digits)}%`),
  // A date ("2026-12-06") as it is; a timestamp as its Beijing date: cutting "2026-12-05T17:30:00Z"
  // at 10 characters would say the 5th where Guangzhou already has the 6th.
  date: (iso) => (!iso ? "—" : String(iso).length <= 10 ? String(iso) : beijingDate(iso)),
  yuan: (n) => (n === null || n === undefined ? "—" : `${Number(n).toLocaleString("zh-CN")} 元/月`),
};

export const GRADE_TEXT = { A: "A（信用风险低）", B: "B（信用风险一般）", C: "C（信用风险较高）", D: "D（信用风险高）" };

export function gradeBadge(grade) {
  if (!grade) return '<span class="badge">信用：未评级</span>';
  return `<span class="badge grade-${esc(grade)}">信用等级 ${esc(GRADE_TEXT[grade] || grade)}</span>`;
}

export const CONCLUSION_CLASS = { compliant: "ok", rectification_required: "warn", non_compliant: "bad" };
export const SEVERITY_ZH = { minor: "轻微", general: "一般", serious: "严重", critical: "特别严重" };

export function setStatus(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle("error", isError);
}

export function param(name) {
  return here.searchParams.get(name);
}
