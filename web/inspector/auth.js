// Sign-in: the officers' OpenID Connect provider (authorization code + PKCE, public client
// `workbench`, redirect back to /ui/inspector/), or in development a pasted token.
import * as store from "./store.js";

const CONFIG = window.CHILDCARE_OIDC || {};
const here = new URL(window.location.href);
// ./dev run: the provider listens 8 ports after the inspection service (8010 next to 8002)
export const ISSUER = CONFIG.issuer || `${here.protocol}//${here.hostname}:${Number(here.port || 80) + 8}`;
const CLIENT_ID = CONFIG.clientId || "workbench";
const SCOPE = "openid profile childcare";
export const REDIRECT_URI = `${here.origin}/ui/inspector/`;

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

/** The token's claims (read, not verified: the services verify every request). */
export function claims(tokenText) {
  try {
    const part = tokenText.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      [...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    );
    return JSON.parse(json);
  } catch (err) {
    return null;
  }
}

export async function signedIn() {
  const tokenText = await store.get("kv", "token");
  if (!tokenText) return null;
  const c = claims(tokenText);
  if (!c || (c.exp && c.exp * 1000 < Date.now())) return { token: tokenText, claims: c, expired: true };
  return { token: tokenText, claims: c, expired: false };
}

export async function usePastedToken(text) {
  const tokenText = text.trim().replace(/^Bearer\s+/i, "");
  if (!claims(tokenText)) throw new Error("这不是有效的登录令牌（JWT）");
  await store.put("kv", tokenText, "token");
}

export async function signOut() {
  await store.del("kv", "token");
}

async function discovery() {
  let response;
  try {
    response = await fetch(`${ISSUER}/.well-known/openid-configuration`);
  } catch (err) {
    throw new Error("统一身份认证平台暂时无法访问；开发环境可粘贴令牌登录");
  }
  if (!response.ok) throw new Error("统一身份认证平台暂时无法访问；开发环境可粘贴令牌登录");
  return response.json();
}

export async function startSignIn() {
  const d = await discovery();
  const verifier = random(48);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem("oidc", JSON.stringify({ verifier, state, issuer: d.issuer, tokenEndpoint: d.token_endpoint }));
  const url = new URL(d.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: CLIENT_ID,
    response_type: "code",
    scope: SCOPE,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    nonce: random(16),
  })) {
    url.searchParams.set(k, v);
  }
  window.location.assign(url.toString());
}

/** Back from the provider with ?code=&state=: redeem the code (PKCE) for the access token. */
export async function finishSignIn() {
  const params = here.searchParams;
  if (!params.has("code") && !params.has("error")) return false;
  const flow = JSON.parse(sessionStorage.getItem("oidc") || "null");
  sessionStorage.removeItem("oidc");
  history.replaceState(null, "", REDIRECT_URI + window.location.hash);
  if (params.has("error")) throw new Error(`登录未完成：${params.get("error_description") || params.get("error")}`);
  if (!flow || params.get("state") !== flow.state || (params.has("iss") && params.get("iss") !== flow.issuer)) {
    throw new Error("登录回调与本次登录不符，请重新登录");
  }
  const response = await fetch(flow.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      code_verifier: flow.verifier,
    }),
  });
  if (!response.ok) throw new Error("登录失败：身份认证平台拒绝了本次登录");
  const tokens = await response.json();
  await store.put("kv", tokens.access_token, "token");
  return true;
}
