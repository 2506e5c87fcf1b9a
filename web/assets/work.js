// The officers' workbench (/ui/work/): sign-in, the officer's token and the calls to the services.
//
// Sign-in is OpenID Connect, authorization code + PKCE (S256), done in the browser by panva's
// oauth4webapi (npm, vendored by web/vendor.mjs): discovery, the authorization request, the
// callback's checks (state, issuer) and the code exchange are the library's. The access token (a
// JWT for the platform's APIs) is kept in sessionStorage: it goes with the tab, and every service
// verifies it on each request. Its claims are read here only to greet the officer.
import * as oauth from "../vendor/oauth4webapi.js";
import { API, ApiError } from "./common.js";

const here = new URL(window.location.href);
const CONFIG = window.CHILDCARE_OIDC || {};
// ./dev run: the provider listens on 8010, nine ports after the pages (filing, 8001)
const pagesPort = Number(here.port || (here.protocol === "https:" ? 443 : 80));
export const ISSUER = CONFIG.issuer || `${here.protocol}//${here.hostname}:${pagesPort + 9}`;
const CLIENT = { client_id: CONFIG.clientId || "workbench" };
const SCOPE = "openid profile childcare";
const WORK = new URL("../work/", import.meta.url).href;
export const REDIRECT_URI = new URL("callback.html", WORK).href;
const TOKEN_KEY = "work.token";
const FLOW_KEY = "work.signin";
// plain http only towards this machine (./dev run, the tests); a deployment's provider is https
const issuerUrl = new URL(ISSUER);
const LOCAL = ["127.0.0.1", "localhost", "[::1]"].includes(issuerUrl.hostname);
const INSECURE = LOCAL && issuerUrl.protocol === "http:" ? { [oauth.allowInsecureRequests]: true } : {};

export const ROLE_ZH = {
  supervisor: "监管主管",
  filing_officer: "备案专员",
  inspector: "检查员",
  credit_officer: "信用管理专员",
  ops: "运维",
};
export const DISTRICT_ZH = {
  "440103": "荔湾区", "440104": "越秀区", "440105": "海珠区", "440106": "天河区", "440111": "白云区",
  "440112": "黄埔区", "440113": "番禺区", "440114": "花都区", "440115": "南沙区", "440117": "从化区",
  "440118": "增城区",
};

/** The token's claims, decoded but not verified (the services verify every request). */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    return null;
  }
}

/** The signed-in officer ({token, claims}) or null (none, or expired). */
export function officer() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const claims = token ? claimsOf(token) : null;
  if (!claims || (claims.exp && claims.exp * 1000 <= Date.now())) return null;
  return { token, claims };
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Development: a token pasted by hand (./dev token …), kept like a signed-in one. */
export function usePastedToken(text) {
  const token = text.trim().replace(/^Bearer\s+/i, "");
  if (!claimsOf(token)) throw new Error("这不是有效的登录令牌（JWT）");
  sessionStorage.setItem(TOKEN_KEY, token);
}

async function authorizationServer() {
  try {
    const response = await oauth.discoveryRequest(issuerUrl, INSECURE);
    return await oauth.processDiscoveryResponse(issuerUrl, response);
  } catch (err) {
    throw new Error("统一身份认证平台暂时无法访问，请稍后再试");
  }
}

/** Go to the provider's login page; it comes back to callback.html. */
export async function startSignIn(returnTo) {
  const as = await authorizationServer();
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, nonce, returnTo: returnTo || WORK }));
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set("client_id", CLIENT.client_id);
  url.searchParams.set("redirect_uri", REDIRECT_URI);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", SCOPE);
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  window.location.assign(url.href);
}

/** On callback.html: check the answer and redeem the code (with the PKCE verifier). Returns where to go. */
export async function finishSignIn() {
  const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
  sessionStorage.removeItem(FLOW_KEY);
  if (!flow) throw new Error("登录已失效，请重新登录");
  const as = await authorizationServer();
  let params;
  try {
    params = oauth.validateAuthResponse(as, CLIENT, new URL(window.location.href), flow.state);
  } catch (err) {
    const description = err && err.cause && err.cause.get ? err.cause.get("error_description") : null;
    throw new Error(description ? `登录未完成：${description}` : "登录回调与本次登录不符，请重新登录");
  }
  let result;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as, CLIENT, oauth.None(), params, REDIRECT_URI, flow.verifier, INSECURE,
    );
    result = await oauth.processAuthorizationCodeResponse(as, CLIENT, response, { expectedNonce: flow.nonce });
  } catch (err) {
    throw new Error("登录失败：身份认证平台未能签发令牌，请重新登录");
  }
  sessionStorage.setItem(TOKEN_KEY, result.access_token);
  // back to a workbench page of this origin only (never a place named by someone else)
  const next = flow.returnTo ? new URL(flow.returnTo, WORK) : null;
  return next && next.origin === here.origin && next.pathname.startsWith(new URL(WORK).pathname) ? next.href : WORK;
}

/** A call to a service with the officer's token; errors carry the API's Chinese message. */
export async function call(service, path, { method = "GET", params = {}, body = undefined } = {}) {
  const who = officer();
  if (!who) throw new ApiError(401, "登录已过期，请重新登录", "token_missing");
  const url = new URL(path, API[service] || here.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${who.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
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

export const SERVICE_ZH = { filing: "备案管理", inspection: "监督检查", credit: "信用监管" };
export const WORK_SERVICES = ["filing", "inspection", "credit"];

/** The item page of a queue item: which page acts on it. */
export function itemHref(service, queue, item) {
  const params = new URLSearchParams({ service, queue, kind: item.kind, id: item.id, link: item.link });
  return `item.html?${params}`;
}

export function queueHref(service, queue) {
  return `queue.html?${new URLSearchParams({ service, queue })}`;
}

/** Fill the header's sign-in area: who is signed in, and sign-out. Returns the officer or null. */
export function header() {
  const who = officer();
  const box = document.getElementById("who");
  if (!box) return who;
  box.replaceChildren();
  if (who) {
    const c = who.claims;
    const name = document.createElement("span");
    name.id = "officer-name";
    name.textContent = c.name || c.sub;
    const out = document.createElement("button");
    out.type = "button";
    out.className = "secondary";
    out.textContent = "退出登录";
    out.addEventListener("click", () => {
      signOut();
      window.location.assign(WORK);
    });
    box.append(name, " ", out);
  }
  return who;
}

/** Send a signed-out visitor to the workbench's start page (sign-in), coming back here afterwards. */
export function requireOfficer() {
  const who = header();
  if (!who) {
    sessionStorage.setItem("work.returnTo", window.location.href);
    window.location.replace(WORK);
  }
  return who;
}

/** Ask with an accessible modal <dialog>; resolves true when confirmed. Focus returns where it was. */
export function confirmDialog(title, text, confirmLabel) {
  const opener = document.activeElement;
  const dialog = document.createElement("dialog");
  dialog.className = "confirm";
  dialog.setAttribute("aria-labelledby", "confirm-title");
  dialog.setAttribute("aria-describedby", "confirm-text");
  const h = document.createElement("h2");
  h.id = "confirm-title";
  h.textContent = title;
  const p = document.createElement("p");
  p.id = "confirm-text";
  p.textContent = text;
  const buttons = document.createElement("div");
  buttons.className = "dialog-buttons";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.textContent = "取消";
  const ok = document.createElement("button");
  ok.type = "button";
  ok.textContent = confirmLabel;
  buttons.append(cancel, ok);
  dialog.append(h, p, buttons);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let answer = false;
    cancel.addEventListener("click", () => dialog.close());
    ok.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.focus) opener.focus();
      resolve(answer);
    });
    dialog.showModal();
    cancel.focus(); // the safe choice first: Enter on arrival does not act
  });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** The deadline cell: the date, and 逾期 N 天 highlighted when past. */
export function deadlineCell(item) {
  const td = el("td");
  if (!item.deadline) {
    td.textContent = "无期限";
    return td;
  }
  td.append(el("span", { text: item.deadline }));
  if (item.days_overdue > 0) {
    td.classList.add("overdue");
    td.append(" ", el("span", { class: "badge bad", text: `逾期 ${item.days_overdue} 天` }));
  }
  return td;
}
