// node-oidc-provider for the code-exchange benchmark: a confidential client
// (client_secret_basic) with authorization_code, ID tokens RS256 (its default), JWT access
// tokens ES256 for the resource, CODES authorization codes (PKCE S256, nonce, scope
// "openid read:docs", each with its own grant, as a person's consent would leave them) made
// before listening and written one per line to CODES_FILE. One process: the storage is an
// unbounded in-memory Map (the memory adapter keeps only 1,000 entries).
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const clientId = process.env.CLIENT_ID || 'bench-web';
const clientSecret = process.env.CLIENT_SECRET || 'bench-secret-bench-secret-bench-secret-00';
const audience = process.env.AUDIENCE || 'https://api.example';
const redirectUri = process.env.REDIRECT_URI || 'http://127.0.0.1/cb';
const challenge = process.env.CODE_CHALLENGE;
const count = Number(process.env.CODES || 1000);
const issuer = `http://127.0.0.1:${port}`;

const store = new Map();
class MapAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  async upsert(id, payload) {
    store.set(this.key(id), payload);
    if (payload.grantId) {
      const key = `grant:${payload.grantId}`;
      store.set(key, [...(store.get(key) || []), this.key(id)]);
    }
  }
  async find(id) { return store.get(this.key(id)); }
  async findByUid(uid) {
    for (const value of store.values()) if (value && value.uid === uid) return value;
    return undefined;
  }
  async findByUserCode() { return undefined; }
  async consume(id) { const value = store.get(this.key(id)); if (value) value.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const key of store.get(`grant:${grantId}`) || []) store.delete(key);
    store.delete(`grant:${grantId}`);
  }
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['authorization_code'],
      redirect_uris: [redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid read:docs',
    },
  ],
  scopes: ['openid', 'read:docs'],
  jwks: { keys: [{ ...ec, alg: 'ES256', use: 'sig', kid: 'es' }, { ...rsa, alg: 'RS256', use: 'sig', kid: 'rs' }] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  ttl: { AuthorizationCode: 900, Grant: 3600, AccessToken: 600, IdToken: 600 },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'read:docs',
        audience,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

const client = await provider.Client.find(clientId);
const codes = [];
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < count; i += 1) {
  const grant = new provider.Grant({ accountId: 'person-1', clientId });
  grant.addOIDCScope('openid');
  grant.addResourceScope(audience, 'read:docs');
  const grantId = await grant.save();
  const code = new provider.AuthorizationCode({
    accountId: 'person-1',
    client,
    grantId,
    scope: 'openid read:docs',
    resource: audience,
    redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    nonce: 'bench-nonce',
    authTime: now,
    expiresWithSession: false,
  });
  codes.push(await code.save());
}
writeFileSync(process.env.CODES_FILE, codes.join('\n') + '\n');
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
