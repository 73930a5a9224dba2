// A relying party written with panva's openid-client (v6), driven by
// tests/server/test_server_oidc_openid_client.py over stdin/stdout, one JSON object a line:
// it prints {"authorize": URL}, reads the URL the browser was redirected to, then runs the
// code exchange (PKCE, nonce, state, iss checked by the library), UserInfo, a refresh and
// builds the end-session URL, and prints what it saw.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');
const env = process.env;

async function main() {
  const config = await client.discovery(
    new URL(env.ISSUER),
    env.CLIENT_ID,
    env.CLIENT_SECRET,
    undefined,
    { execute: [client.allowInsecureRequests] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: env.REDIRECT_URI,
    scope: env.SCOPE,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  say({ authorize: url.href, nonce });
  const callback = (await lines.next()).value;
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const result = {
    metadata: config.serverMetadata(),
    claims,
    userinfo,
    refreshed_claims: refreshed.claims(),
    refreshed_scope: refreshed.scope,
    rotated: refreshed.refresh_token !== tokens.refresh_token,
    id_token: tokens.id_token,
  };
  if (env.POST_LOGOUT_REDIRECT_URI) {
    result.logout = client.buildEndSessionUrl(config, {
      id_token_hint: refreshed.id_token,
      post_logout_redirect_uri: env.POST_LOGOUT_REDIRECT_URI,
      state: 'bye-' + state,
    }).href;
  }
  say(result);
}

main().then(
  () => process.exit(0),
  (error) => {
    say({ error: String(error), code: error.code, cause: String(error.cause ?? '') });
    process.exit(1);
  },
);
