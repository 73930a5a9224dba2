// Plain-language hints for registered claims and header parameters (IANA JWT and JOSE registries).

export const CLAIMS = {
  iss: ["Issuer", "Who created and signed the token. A verifier accepts only issuers it trusts, and their keys only."],
  sub: ["Subject", "Whom the token is about: usually a user or client id, unique within the issuer."],
  aud: ["Audience", "The services meant to accept the token. A service must reject tokens that do not name it."],
  exp: ["Expiration time", "From this moment on the token must be rejected."],
  nbf: ["Not before", "Before this moment the token must be rejected."],
  iat: ["Issued at", "When the token was created."],
  jti: ["JWT ID", "A unique id for this token, used to detect replays and to revoke it."],
  scope: ["Scope", "The permissions granted, separated by spaces (OAuth 2.0)."],
  client_id: ["Client ID", "The OAuth client the token was issued to (RFC 8693, RFC 9068)."],
  azp: ["Authorized party", "The client an ID token was issued to (OpenID Connect)."],
  auth_time: ["Authentication time", "When the user last actively signed in (OpenID Connect)."],
  nonce: ["Nonce", "A value from the sign-in request that ties an ID token to it, against replay (OpenID Connect)."],
  acr: ["Authentication context class", "How strongly the user was authenticated (OpenID Connect)."],
  amr: ["Authentication methods", "How the user signed in, e.g. pwd, otp, mfa (RFC 8176)."],
  sid: ["Session ID", "The sign-in session at the identity provider (OpenID Connect)."],
  at_hash: ["Access token hash", "Half of a hash of the access token issued with this ID token (OpenID Connect)."],
  c_hash: ["Code hash", "Half of a hash of the authorization code issued with this ID token (OpenID Connect)."],
  cnf: ["Confirmation", "The key the holder must prove it has, for sender-constrained tokens (RFC 7800, DPoP, mTLS)."],
  act: ["Actor", "Who is acting on behalf of the subject (token exchange, RFC 8693)."],
  may_act: ["May act", "Who is allowed to act on behalf of the subject (RFC 8693)."],
  roles: ["Roles", "Roles given to the subject (RFC 9068)."],
  groups: ["Groups", "Groups the subject belongs to (RFC 9068)."],
  entitlements: ["Entitlements", "Individual rights given to the subject (RFC 9068)."],
  name: ["Name", "The user's full name (OpenID Connect)."],
  given_name: ["Given name", "The user's first name (OpenID Connect)."],
  family_name: ["Family name", "The user's surname (OpenID Connect)."],
  preferred_username: ["Preferred username", "A short name the user goes by; not guaranteed unique (OpenID Connect)."],
  email: ["Email", "The user's email address (OpenID Connect); trust it only if email_verified is true."],
  email_verified: ["Email verified", "Whether the issuer checked that the user controls the email address."],
  phone_number: ["Phone number", "The user's phone number (OpenID Connect)."],
  locale: ["Locale", "The user's language and region, e.g. en-GB (OpenID Connect)."],
  htm: ["HTTP method", "The method of the request a DPoP proof is bound to (RFC 9449)."],
  htu: ["HTTP URI", "The URL of the request a DPoP proof is bound to (RFC 9449)."],
  ath: ["Access token hash", "A hash of the access token a DPoP proof is sent with (RFC 9449)."],
  events: ["Events", "What happened, in a Security Event Token (RFC 8417)."],
  toe: ["Time of event", "When the event in a Security Event Token happened (RFC 8417)."],
  txn: ["Transaction", "An id tying together tokens of one transaction (RFC 8417)."],
};

export const HEADERS = {
  alg: ["Algorithm", "How the token is signed. A verifier must choose the algorithms it accepts itself, never follow this value blindly."],
  typ: ["Type", "What kind of token this is, e.g. JWT or at+jwt, so one kind cannot pass for another (RFC 8725 sec. 3.11)."],
  cty: ["Content type", "The type of the payload; only used when a token is nested inside another."],
  kid: ["Key ID", "A hint telling the verifier which of its own keys to use."],
  jku: ["JWK Set URL", "Where keys can be fetched. A verifier must never fetch keys from a URL the token names."],
  jwk: ["JSON Web Key", "A public key inside the token. Never use it to verify the same token."],
  x5u: ["X.509 URL", "Where a certificate chain can be fetched. Never fetch it blindly."],
  x5c: ["X.509 chain", "Certificates inside the token; trust them only after validating the chain."],
  x5t: ["X.509 SHA-1 thumbprint", "Identifies the certificate whose key signed the token."],
  "x5t#S256": ["X.509 SHA-256 thumbprint", "Identifies the certificate whose key signed the token."],
  crit: ["Critical", "Extensions the verifier must understand, or reject the token."],
  b64: ["Base64 payload", "false means the payload is not encoded (RFC 7797); JWTs never use it."],
  enc: ["Encryption", "The content encryption of an encrypted token (JWE)."],
  zip: ["Compression", "The payload was compressed before encryption (JWE)."],
  epk: ["Ephemeral public key", "The sender's one-time key for ECDH key agreement (JWE)."],
  apu: ["Agreement PartyUInfo", "Information about the sender, mixed into ECDH key agreement (JWE)."],
  apv: ["Agreement PartyVInfo", "Information about the recipient, mixed into ECDH key agreement (JWE)."],
  iv: ["Initialization vector", "The IV used to wrap the content key (JWE)."],
  tag: ["Authentication tag", "The tag of the wrapped content key (JWE)."],
  p2s: ["PBES2 salt", "Salt for deriving a key from a password (JWE)."],
  p2c: ["PBES2 count", "Iterations for deriving a key from a password; huge values are a denial of service (JWE)."],
  ppt: ["PASSporT extension", "The PASSporT type (RFC 8225)."],
  url: ["URL", "The request URL this message is bound to (ACME, RFC 8555)."],
  nonce: ["Nonce", "A server-provided value against replay (ACME, RFC 8555)."],
};

export const ALGORITHMS = {
  HS256: "HMAC with SHA-256: one shared secret both signs and verifies.",
  HS384: "HMAC with SHA-384: one shared secret both signs and verifies.",
  HS512: "HMAC with SHA-512: one shared secret both signs and verifies.",
  RS256: "RSA PKCS#1 v1.5 with SHA-256: a private key signs, the public key verifies.",
  RS384: "RSA PKCS#1 v1.5 with SHA-384: a private key signs, the public key verifies.",
  RS512: "RSA PKCS#1 v1.5 with SHA-512: a private key signs, the public key verifies.",
  PS256: "RSA-PSS with SHA-256: a private key signs, the public key verifies.",
  PS384: "RSA-PSS with SHA-384: a private key signs, the public key verifies.",
  PS512: "RSA-PSS with SHA-512: a private key signs, the public key verifies.",
  ES256: "ECDSA on curve P-256 with SHA-256.",
  ES384: "ECDSA on curve P-384 with SHA-384.",
  ES512: "ECDSA on curve P-521 with SHA-512.",
  ES256K: "ECDSA on curve secp256k1 with SHA-256.",
  EdDSA: "Edwards-curve signature (Ed25519 or Ed448).",
  Ed25519: "Edwards-curve signature on Ed25519.",
  Ed448: "Edwards-curve signature on Ed448.",
  none: "No signature at all: anyone can forge this token. Never accept it.",
};

export const TIME_CLAIMS = new Set(["exp", "nbf", "iat", "auth_time", "toe"]);

/** [name, meaning] for a claim; unregistered names are private claims. */
export function claimHint(name) {
  return CLAIMS[name] ?? [null, "A private claim: its meaning is agreed between issuer and audience."];
}

/** [name, meaning] for a header parameter; alg gets the algorithm's own description. */
export function headerHint(name, value) {
  const [title, text] = HEADERS[name] ?? [null, "Not a registered header parameter."];
  if (name === "alg" && typeof value === "string") {
    const alg = ALGORITHMS[value] ?? ALGORITHMS[value.toLowerCase()];
    return [title, alg ? `${alg} ${text}` : `Unknown algorithm. ${text}`];
  }
  return [title, text];
}
