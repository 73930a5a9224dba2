// node-oidc-provider as a plain OpenID provider for the relying-party tests: authorization code
// + PKCE, devInteractions (any login, no password check), UserInfo claims by scope, refresh
// tokens, RP-initiated and back-channel logout. Clients come from CLIENTS (JSON), in memory.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.CLIENTS || '[]');

function key(type, options, alg, kid) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid };
}

const provider = new Provider(issuer, {
  clients,
  jwks: {
    keys: [
      key('rsa', { modulusLength: 2048 }, 'RS256', 'rs'),
      key('ec', { namedCurve: 'P-256' }, 'ES256', 'es'),
      key('ed25519', {}, 'EdDSA', 'ed'),
    ],
  },
  cookies: { keys: ['tessera-test-cookie-key-0123456789abcdef'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id, name: `Person ${id}`, email: `${id}@example.test`, email_verified: true,
    }),
  }),
  claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  ttl: { AccessToken: 300, IdToken: 300, RefreshToken: 3600 },
  // The back-channel logout endpoint of the test app is on 127.0.0.1, which the provider's
  // SSRF guard refuses; the tests run it on loopback only.
  fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined }),
});
provider.on('backchannel.error', (error) => console.error(`backchannel.error ${error.message} ${error.cause ?? ''}`));
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
