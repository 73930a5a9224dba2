// node-oidc-provider for the UserInfo and registration benchmarks: open dynamic client
// registration (features.registration, no initial access token), and UserInfo for a person
// whose account has profile and email claims. Before listening it grants that person's
// consent (scope "openid profile email") to a confidential client and writes one access
// token for it to TOKEN_FILE (opaque: node-oidc-provider answers UserInfo only for tokens
// it keeps, not for JWT access tokens of a resource server). One process: the storage is an
// unbounded in-memory Map (the memory adapter keeps only 1,000 entries, too few for the
// clients registered under load).
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const clientId = process.env.CLIENT_ID || 'bench-rp';
const clientSecret = process.env.CLIENT_SECRET || 'bench-secret-bench-secret-bench-secret-00';
const redirectUri = process.env.REDIRECT_URI || 'http://127.0.0.1/cb';
const issuer = `http://127.0.0.1:${port}`;
const person = JSON.parse(process.env.PERSON_CLAIMS || '{}');
const startedAt = Math.floor(Date.now() / 1000);

const store = new Map();
class MapAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  async upsert(id, payload) { store.set(this.key(id), payload); }
  async find(id) { return store.get(this.key(id)); }
  async findByUid(uid) {
    for (const value of store.values()) if (value && value.uid === uid) return value;
    return undefined;
  }
  async findByUserCode() { return undefined; }
  async consume(id) { const value = store.get(this.key(id)); if (value) value.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId() {}
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
      scope: 'openid profile email',
    },
  ],
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale', 'updated_at'],
    email: ['email', 'email_verified'],
  },
  jwks: { keys: [{ ...ec, alg: 'ES256', use: 'sig', kid: 'es' }, { ...rsa, alg: 'RS256', use: 'sig', kid: 'rs' }] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ ...person, sub, updated_at: startedAt }) }),
  ttl: { AccessToken: 3600, Grant: 3600, IdToken: 600 },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    userinfo: { enabled: true },
  },
});

const client = await provider.Client.find(clientId);
const grant = new provider.Grant({ accountId: 'person-1', clientId });
grant.addOIDCScope('openid profile email');
const grantId = await grant.save();
const token = new provider.AccessToken({
  accountId: 'person-1',
  client,
  grantId,
  scope: 'openid profile email',
});
writeFileSync(process.env.TOKEN_FILE, (await token.save()) + '\n');
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
