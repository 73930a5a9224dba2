// node-oidc-provider configured as `tessera serve` is for the benchmark: client_credentials,
// client_secret_basic, JWT access tokens (RFC 9068 via the resource indicators feature,
// ES256), in-memory storage. WORKERS processes share the port through node:cluster.
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const workers = Number(process.env.WORKERS || 1);
const clientId = process.env.CLIENT_ID || 'bench';
const clientSecret = process.env.CLIENT_SECRET || 'bench-secret-bench-secret-bench-secret-00';
const audience = process.env.AUDIENCE || 'https://api.example';
const issuer = `http://127.0.0.1:${port}`;

if (cluster.isPrimary && workers > 1) {
  // every worker must sign with the same keys, as replicas of one issuer would
  process.env.BENCH_JWKS = JSON.stringify(makeJwks());
  for (let i = 0; i < workers; i += 1) cluster.fork();
} else {
  const jwks = process.env.BENCH_JWKS ? JSON.parse(process.env.BENCH_JWKS) : makeJwks();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'read:docs',
      },
    ],
    scopes: ['read:docs'],
    jwks,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
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
  provider.listen(port, '127.0.0.1', () => {
    if (!cluster.isWorker || cluster.worker.id === 1) console.log(`listening ${issuer}`);
  });
}

function makeJwks() {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return { keys: [{ ...ec, alg: 'ES256', use: 'sig', kid: 'es' }, { ...rsa, alg: 'RS256', use: 'sig', kid: 'rs' }] };
}
