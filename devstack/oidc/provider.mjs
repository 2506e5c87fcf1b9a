// The local OpenID Connect provider of `./dev run` and the token tests: panva's certified
// oidc-provider (npm), configured here. Configuration only: the provider, its login and consent
// pages (devInteractions), its keys' use and every protocol rule are the library's.
//
// Environment (devstack/oidc.py sets it):
//   OIDC_ISSUER            the issuer URL, e.g. http://127.0.0.1:8010 (the provider listens on its port)
//   OIDC_JWKS_FILE         private JWKS (JSON {"keys": [...]}); the first key of an algorithm signs
//   OIDC_AUDIENCE          the platform's resource indicator = the access tokens' `aud`
//   OIDC_REDIRECT_URIS     JSON list: the public client `workbench`'s redirect URIs
//   OIDC_ACCESS_TOKEN_ALG  RS256 (default) or ES256
//   OIDC_ACCESS_TOKEN_TTL  seconds (default 3600)
//   OIDC_ACCOUNTS_FILE     the demo accounts (default accounts.json next to this file)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const issuer = env('OIDC_ISSUER');
const audience = env('OIDC_AUDIENCE');
const accessTokenAlg = env('OIDC_ACCESS_TOKEN_ALG', 'RS256');
const accessTokenTTL = Number(env('OIDC_ACCESS_TOKEN_TTL', '3600'));
const jwks = JSON.parse(readFileSync(env('OIDC_JWKS_FILE'), 'utf8'));
const redirectUris = JSON.parse(env('OIDC_REDIRECT_URIS'));
const accountsFile = env('OIDC_ACCOUNTS_FILE', new URL('./accounts.json', import.meta.url).pathname);
const { accounts } = JSON.parse(readFileSync(accountsFile, 'utf8'));

// The platform reads these from the access token (services' oidc_roles_claim / oidc_districts_claim).
const platformClaims = (accountId) => {
  const account = accounts[accountId];
  return { name: account.name, roles: account.roles, districts: account.districts };
};

const configuration = {
  clients: [
    {
      // the officers' workbench pages (/ui/work/): a browser app, so a public client with PKCE
      client_id: 'workbench',
      client_name: '托育监管工作台',
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
    },
  ],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'profile', 'childcare'],
  claims: { openid: ['sub'], profile: ['name'], childcare: ['roles', 'districts'] },
  findAccount: async (_ctx, accountId) => {
    if (!Object.hasOwn(accounts, accountId)) return undefined; // unknown names cannot sign in
    return {
      accountId,
      claims: async () => ({ sub: accountId, ...platformClaims(accountId) }),
    };
  },
  features: {
    devInteractions: { enabled: true }, // the library's own login and consent pages (no password)
    resourceIndicators: {
      enabled: true,
      // every authorization is for the platform's APIs: JWT access tokens with aud = the platform
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== audience) throw new errors.InvalidTarget();
        return {
          scope: 'childcare',
          audience,
          accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: accessTokenAlg } },
        };
      },
    },
  },
  extraTokenClaims: async (_ctx, token) => {
    if (token.kind !== 'AccessToken' || !token.accountId || !Object.hasOwn(accounts, token.accountId)) return undefined;
    return platformClaims(token.accountId);
  },
  // an officer's working day; sessions, grants and interactions of the in-memory store go with the process
  ttl: { AccessToken: accessTokenTTL, IdToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
};

const provider = new Provider(issuer, configuration);
const port = Number(new URL(issuer).port);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening: ${issuer}/.well-known/openid-configuration`);
});
