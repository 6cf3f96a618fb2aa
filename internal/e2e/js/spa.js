// A single-page app that is an OAuth 2.0 public client, written with
// panva's oauth4webapi as its documentation shows, served on an origin of
// its own by TestE2EBrowserSPA (internal/e2e/browser_cors_test.go). It
// discovers Gatehouse (RFC 8414), sends the user to authorize with PKCE
// (RFC 7636), exchanges the code at the token endpoint and revokes the
// refresh token (RFC 7009), every request a cross-origin fetch that CORS
// must allow. On the probe page (another origin) it only checks what such
// an origin may read. The result goes into #result as JSON.
import * as oauth from '/oauth4webapi.js';

const out = document.getElementById('result');
const finish = (result) => {
  out.textContent = JSON.stringify(result);
  out.dataset.done = '1';
};
// The test's Gatehouse listens on http://127.0.0.1.
const insecure = { [oauth.allowInsecureRequests]: true };

async function discover(cfg) {
  const issuer = new URL(cfg.issuer);
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
  return oauth.processDiscoveryResponse(issuer, res);
}

// readable reports whether the page may read the answer to a request
// (fetch rejects with a TypeError when CORS does not allow it).
async function readable(url, init) {
  try {
    await fetch(url, init);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const here = new URL(location.href);
  if (here.searchParams.has('issuer')) {
    sessionStorage.setItem('cfg', JSON.stringify({
      issuer: here.searchParams.get('issuer'),
      client_id: here.searchParams.get('client_id'),
    }));
  }
  const cfg = JSON.parse(sessionStorage.getItem('cfg'));
  const as = await discover(cfg);
  const client = { client_id: cfg.client_id };
  const redirectURI = new URL('/callback', location.origin).href;

  if (here.pathname === '/probe') {
    // Another origin than the app's: the metadata is public, the app's
    // token answers are not readable here.
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: redirectURI, client_id: client.client_id });
    finish({
      probe: true,
      discovered: as.issuer === cfg.issuer,
      tokenReadable: await readable(as.token_endpoint, { method: 'POST', body: form }),
    });
    return;
  }
  if (here.pathname !== '/callback') {
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    sessionStorage.setItem('pkce', JSON.stringify({ codeVerifier, state }));
    const u = new URL(as.authorization_endpoint);
    u.searchParams.set('client_id', client.client_id);
    u.searchParams.set('redirect_uri', redirectURI);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('scope', 'all');
    u.searchParams.set('state', state);
    u.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
    u.searchParams.set('code_challenge_method', 'S256');
    location.assign(u.href);
    return;
  }

  const { codeVerifier, state } = JSON.parse(sessionStorage.getItem('pkce'));
  const params = oauth.validateAuthResponse(as, client, here, state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectURI, codeVerifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);

  // Revoke the refresh token (its grant, the access token too). Here the
  // public client names itself in HTTP Basic with an empty password (an
  // oauth4webapi ClientAuth of our own, like its ClientSecretBasic), a
  // header that is not CORS-safelisted: the browser sends a preflight.
  const basicNone = (_as, c, _body, headers) => {
    headers.set('authorization', 'Basic ' + btoa(encodeURIComponent(c.client_id) + ':'));
  };
  const rev = await oauth.revocationRequest(as, client, basicNone, tokens.refresh_token, insecure);
  await oauth.processRevocationResponse(rev);

  finish({
    ok: true,
    issuer: as.issuer,
    accessToken: tokens.access_token,
    tokenType: tokens.token_type,
    hasRefresh: typeof tokens.refresh_token === 'string',
    scope: tokens.scope,
    // Introspection is for resource servers: no CORS.
    introspectionReadable: await readable(as.introspection_endpoint, { method: 'POST', body: new URLSearchParams({ token: tokens.access_token }) }),
  });
}

main().catch((err) => finish({ ok: false, error: String(err && (err.stack || err.message) || err), cause: err && err.cause ? String(err.cause) : '' }));
