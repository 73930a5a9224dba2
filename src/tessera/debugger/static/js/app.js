// Tessera debugger: wiring. Decoding is local and display-only; verify, lint, encode and key
// generation ask this page's own server, which runs the Tessera library.

import { post } from "./api.js";
import { autosize, el, paintToken, renderJson } from "./dom.js";
import { TIME_CLAIMS, claimHint, headerHint } from "./hints.js";
import { decodeToken } from "./jwt.js";
import { formatLocal, formatUtc, isNumericDate, phrase } from "./time.js";
import { renderTimeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const nowSeconds = () => Date.now() / 1000;

const WHY = {
  malformed: "The token is not a well-formed JWT.",
  unsupported_header: "The header asks for something a JWT must not use (crit or b64).",
  algorithm_not_allowed: "The token's alg does not fit this key or the allowed algorithms. The verifier decides the algorithm, not the token.",
  key_not_found: "No key in the set matches the token's kid and algorithm.",
  bad_signature: "The signature does not match: another key signed it, or the token was changed after signing.",
  invalid_type: "The typ header is not the type you expect.",
  missing_claim: "A claim the check requires is missing.",
  expired: "The expiry time (exp) has passed.",
  not_yet_valid: "The token is not valid yet (nbf), or was issued in the future (iat).",
  invalid_issuer: "The issuer (iss) is not the one you expect.",
  invalid_audience: "A token naming an audience is accepted only by that audience: set the expected audience under Claim checks.",
  invalid_subject: "The subject (sub) is not the one you expect.",
  invalid_claim: "A registered claim has the wrong type.",
  invalid_key: "Tessera refuses this key. An HMAC secret must be at least as long as the hash (32 bytes for HS256, 48 for HS384, 64 for HS512); shorter ones can be guessed.",
};

const KEY_TEXT = {
  secret: ["Secret", "The shared secret, exactly as the issuer uses it."],
  pem: ["PEM", "A public key (-----BEGIN PUBLIC KEY-----) or certificate; a private key works too."],
  jwk: ["JWK", "One key as JSON, e.g. {\"kty\":\"EC\",\"crv\":\"P-256\",...}."],
  jwks: ["JWK Set", "{\"keys\": [...]}, as served at an issuer's jwks_uri; the token's kid picks the key."],
};

const ENC_KEY_TEXT = { secret: "Secret", pem: "PEM private key", jwk: "Private JWK" };

const decoded = { token: "", header: null, claims: null };
let lintTimer = null;
let lintSeq = 0;
const generated = { alg: null, publicJwk: null };

// -- tabs ------------------------------------------------------------------------------------

function selectTab(tab, focus) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index };
      if (event.key in moves) {
        event.preventDefault();
        selectTab(tabs[(index + moves[event.key] + tabs.length) % tabs.length], true);
      }
    });
  });
}

// -- decode ------------------------------------------------------------------------------------

function hintRow(name, title, text, times) {
  // The value is in the JSON just above; the row names the member and says what it means.
  return el("div", { class: "hint" },
    el("p", { class: "hint-text" },
      el("code", {}, name), title ? el("span", { class: "hint-name" }, ` ${title}`) : null, `: ${text}`),
    times);
}

function timeList(name, seconds) {
  return el("ul", { class: "times" },
    el("li", { class: "rel", "data-claim": name, "data-time": seconds }, phrase(name, seconds, nowSeconds())),
    el("li", {}, `local: ${formatLocal(seconds)}`),
    el("li", {}, `UTC: ${formatUtc(seconds)}`));
}

function renderHints() {
  const headerBox = $("header-hints");
  const claimsBox = $("claims-hints");
  headerBox.replaceChildren();
  claimsBox.replaceChildren();
  for (const [name, value] of Object.entries(decoded.header ?? {})) {
    const [title, text] = headerHint(name, value);
    headerBox.append(hintRow(name, title, text, null));
  }
  for (const [name, value] of Object.entries(decoded.claims ?? {})) {
    const [title, text] = claimHint(name);
    const times = TIME_CLAIMS.has(name) && isNumericDate(value) ? timeList(name, value) : null;
    const note = TIME_CLAIMS.has(name) && !isNumericDate(value)
      ? `${text} This value is not a NumericDate (seconds since 1970), so verifiers reject it.`
      : text;
    claimsBox.append(hintRow(name, title, note, times));
  }
}

function renderLifetime() {
  const now = nowSeconds();
  const state = renderTimeline($("timeline"), decoded.claims, now);
  const badge = $("state");
  badge.dataset.state = state.state;
  badge.textContent = state.label;
  for (const item of document.querySelectorAll("#claims-hints .rel")) {
    item.textContent = phrase(item.dataset.claim, Number(item.dataset.time), now);
  }
}

function setStatus(node, text, kind) {
  node.textContent = text;
  node.className = `status${kind ? ` ${kind}` : ""}`;
}

function onTokenInput() {
  const input = $("token");
  paintToken($("token-paint"), input.value);
  autosize(input);
  const result = decodeToken(input.value);
  decoded.token = result.token;
  decoded.header = result.header;
  decoded.claims = result.claims;
  if (result.header) renderJson($("header-json"), result.header);
  else $("header-json").replaceChildren();
  if (result.claims) renderJson($("claims-json"), result.claims);
  else $("claims-json").replaceChildren();
  renderHints();
  renderLifetime();
  $("verify-result").replaceChildren();
  if (!result.token) {
    setStatus($("token-status"), "", null);
  } else if (result.errors.length) {
    setStatus($("token-status"), `Cannot decode: ${result.errors.join("; ")}.`, "bad");
  } else {
    setStatus($("token-status"), "Decoded in this page (display only: Verify checks it).", "ok");
  }
  scheduleLint();
}

// -- lint ------------------------------------------------------------------------------------

function renderFindings(findings, scope) {
  const box = $("lint");
  $("lint-scope").textContent = scope;
  box.replaceChildren();
  if (findings.length === 0) {
    box.append(el("p", { class: "muted" }, "No findings."));
    return;
  }
  box.append(el("ul", { class: "findings" }, findings.map((f) =>
    el("li", { class: "finding", "data-severity": f.severity },
      el("span", { class: "sev" }, f.severity), " ", el("code", {}, f.code),
      el("p", {}, f.message),
      el("p", { class: "ref" }, f.rfc_ref)))));
}

function lintMessage(text) {
  $("lint-scope").textContent = "";
  $("lint").replaceChildren(el("p", { class: "muted" }, text));
}

function scheduleLint() {
  clearTimeout(lintTimer);
  const token = decoded.token;
  const seq = ++lintSeq;
  if (!token) {
    lintMessage("Paste a token to see its security findings.");
    return;
  }
  lintTimer = setTimeout(async () => {
    const response = await post("lint", { token });
    if (seq !== lintSeq) return;
    if (response.ok && response.data.malformed) lintMessage(`The server's strict parser refuses this token: ${response.data.malformed.message}.`);
    else if (response.ok) renderFindings(response.data.findings, "");
    else if (response.offline) lintMessage("Lint needs this page's server, which did not answer. Decoding still works.");
    else lintMessage(`The server's strict parser refuses this token: ${response.data.error.message}.`);
  }, 250);
}

// -- verify ----------------------------------------------------------------------------------

function onKeyKind() {
  const kind = $("key-kind").value;
  const text = KEY_TEXT[kind];
  $("key-text-field").hidden = !text;
  $("key-b64-field").hidden = kind !== "secret";
  $("key-url-field").hidden = kind !== "jwks_url";
  if (text) {
    $("key-text-label").textContent = text[0];
    $("key-text-help").textContent = text[1];
  }
}

function keySpec() {
  const kind = $("key-kind").value;
  if (kind === "jwks_url") return { kind, value: $("key-url").value.trim() };
  if (kind === "server") return { kind, value: "" };
  const spec = { kind, value: $("key-text").value };
  if (kind === "secret" && $("key-b64").checked) spec.encoding = "base64url";
  return spec;
}

function verifyOptions() {
  const options = { require_exp: $("opt-require-exp").checked };
  for (const [id, name] of [["opt-iss", "issuer"], ["opt-aud", "audience"], ["opt-sub", "subject"], ["opt-typ", "typ"]]) {
    const value = $(id).value.trim();
    if (value) options[name] = value;
  }
  const leeway = Number($("opt-leeway").value);
  if (Number.isFinite(leeway) && leeway > 0) options.leeway = leeway;
  if ($("opt-alg").value) options.algorithms = [$("opt-alg").value];
  return options;
}

function explain(error) {
  let why = WHY[error.code] ?? "";
  const claims = decoded.claims ?? {};
  if (error.code === "expired" && isNumericDate(claims.exp)) {
    why = `${why} It ${phrase("exp", claims.exp, nowSeconds())} (${formatUtc(claims.exp)}).`;
  } else if (error.code === "not_yet_valid" && isNumericDate(claims.nbf) && claims.nbf > nowSeconds()) {
    why = `${why} It ${phrase("nbf", claims.nbf, nowSeconds())}.`;
  } else if (error.code === "invalid_audience" && $("opt-aud").value.trim()) {
    why = "The token's aud does not include the audience you expect.";
  }
  return why;
}

function renderVerdict(data) {
  const box = $("verify-result");
  const key = data.key;
  const keyText = key ? `key ${key.kid ? `kid ${key.kid}` : "without kid"} (${key.kty}${key.alg ? `, ${key.alg}` : ""})` : "the key";
  const verdict = data.valid
    ? el("div", { class: "verdict ok", "data-valid": "true" },
        el("h3", {}, "Valid"),
        el("p", {}, `Signature verified with ${keyText}; every claim check passed.`))
    : el("div", { class: "verdict bad", "data-valid": "false" },
        el("h3", {}, "Invalid"),
        el("p", {}, el("code", {}, data.error.code), `: ${data.error.message}.`),
        el("p", {}, explain(data.error)),
        el("p", {}, {
          valid: `The signature is valid with ${keyText}; a claim check failed.`,
          invalid: "The signature does not verify with this key.",
          not_checked: "The signature was not checked.",
        }[data.signature]));
  if (data.notes && data.notes.length) verdict.append(el("ul", {}, data.notes.map((n) => el("li", {}, n))));
  box.replaceChildren(verdict);
  if (data.findings) renderFindings(data.findings, "(with the key)");
}

async function onVerify() {
  const box = $("verify-result");
  if (!decoded.token) {
    box.replaceChildren(el("div", { class: "verdict bad" }, el("h3", {}, "No token"), el("p", {}, "Paste a token first.")));
    $("token").focus();
    return;
  }
  box.replaceChildren(el("p", { class: "muted" }, "Verifying…"));
  // Verify answers with findings judged with the key: a keyless lint still due must not win.
  clearTimeout(lintTimer);
  lintSeq += 1;
  const token = decoded.token;
  const response = await post("verify", { token, key: keySpec(), options: verifyOptions() });
  if (token !== decoded.token) return; // the token changed while this one was verified
  if (response.ok) {
    renderVerdict(response.data);
  } else {
    scheduleLint();
    const error = response.data.error;
    box.replaceChildren(el("div", { class: "verdict bad", "data-valid": "error" },
      el("h3", {}, "Could not verify"),
      el("p", {}, el("code", {}, error.code), `: ${error.message}.`)));
  }
}

// -- encode ----------------------------------------------------------------------------------

function parseObject(id, msgId, what) {
  const area = $(id);
  const msg = $(msgId);
  try {
    const value = JSON.parse(area.value);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${what} must be a JSON object`);
    area.removeAttribute("aria-invalid");
    msg.textContent = "";
    return value;
  } catch (err) {
    area.setAttribute("aria-invalid", "true");
    msg.textContent = err instanceof SyntaxError ? `Not valid JSON: ${err.message}` : err.message;
    return null;
  }
}

function validateEncode() {
  const header = parseObject("enc-header", "enc-header-msg", "the header");
  const claims = parseObject("enc-claims", "enc-claims-msg", "the claims");
  if (header && "alg" in header && header.alg !== $("enc-alg").value) {
    $("enc-header").setAttribute("aria-invalid", "true");
    $("enc-header-msg").textContent = `alg is ${JSON.stringify(header.alg)} but the algorithm picked is ${$("enc-alg").value}.`;
    return null;
  }
  return header && claims ? { header, claims } : null;
}

function onEncKeyKind() {
  const kind = $("enc-key-kind").value;
  $("enc-key-label").textContent = ENC_KEY_TEXT[kind];
  $("enc-key-b64-field").hidden = kind !== "secret";
}

function onEncAlg() {
  const alg = $("enc-alg").value;
  try {
    const header = JSON.parse($("enc-header").value);
    if (header && typeof header === "object" && !Array.isArray(header)) {
      header.alg = alg;
      $("enc-header").value = JSON.stringify(header, null, 2);
    }
  } catch {
    // Leave text that is not JSON alone; validation shows the problem.
  }
  const hmac = alg.startsWith("HS");
  const kind = $("enc-key-kind");
  if (hmac && kind.value !== "secret") kind.value = "secret";
  if (!hmac && kind.value === "secret") kind.value = "jwk";
  if (generated.alg !== alg) {
    generated.alg = null;
    generated.publicJwk = null;
    $("enc-public-field").hidden = true;
  }
  onEncKeyKind();
  validateEncode();
}

async function onGenerate() {
  const alg = $("enc-alg").value;
  setStatus($("enc-status"), `Generating a ${alg} key…`, null);
  const response = await post("generate-key", { alg });
  if (!response.ok) {
    setStatus($("enc-status"), `Could not generate a key: ${response.data.error.message}.`, "bad");
    return;
  }
  const data = response.data;
  generated.alg = alg;
  if (data.kind === "secret") {
    $("enc-key-kind").value = "secret";
    $("enc-key-text").value = data.secret;
    $("enc-key-b64").checked = true;
    generated.publicJwk = null;
    $("enc-public-field").hidden = true;
  } else {
    $("enc-key-kind").value = "jwk";
    $("enc-key-text").value = JSON.stringify(data.private_jwk, null, 2);
    generated.publicJwk = data.public_jwk;
    $("enc-public").value = JSON.stringify(data.public_jwk, null, 2);
    $("enc-public-field").hidden = false;
  }
  onEncKeyKind();
  setStatus($("enc-status"), `New ${alg} key generated in this server's memory; it is not stored.`, "ok");
}

function encKeySpec() {
  const kind = $("enc-key-kind").value;
  const spec = { kind, value: $("enc-key-text").value };
  if (kind === "secret" && $("enc-key-b64").checked) spec.encoding = "base64url";
  return spec;
}

async function onSign() {
  const parsed = validateEncode();
  if (!parsed) {
    setStatus($("enc-status"), "Fix the JSON above first.", "bad");
    return;
  }
  if (!$("enc-key-text").value.trim()) {
    setStatus($("enc-status"), "Paste a key or generate one first.", "bad");
    $("enc-key-text").focus();
    return;
  }
  const response = await post("encode", { alg: $("enc-alg").value, header: parsed.header, claims: parsed.claims, key: encKeySpec() });
  if (!response.ok) {
    setStatus($("enc-status"), `Not signed: ${response.data.error.message} (${response.data.error.code}).`, "bad");
    return;
  }
  const output = $("enc-output");
  output.value = response.data.token;
  paintToken($("enc-paint"), output.value);
  autosize(output);
  $("enc-open").disabled = false;
  setStatus($("enc-status"), `Signed with ${$("enc-alg").value}.`, "ok");
}

function onOpenEncoded() {
  const token = $("enc-output").value;
  if (!token) return;
  $("token").value = token;
  const kind = $("enc-key-kind").value;
  if (kind === "secret") {
    $("key-kind").value = "secret";
    $("key-text").value = $("enc-key-text").value;
    $("key-b64").checked = $("enc-key-b64").checked;
  } else if (generated.publicJwk) {
    $("key-kind").value = "jwk";
    $("key-text").value = JSON.stringify(generated.publicJwk, null, 2);
  } else {
    $("key-kind").value = kind;
    $("key-text").value = $("enc-key-text").value;
  }
  onKeyKind();
  const claims = decodeToken(token).claims ?? {};
  $("opt-iss").value = typeof claims.iss === "string" ? claims.iss : "";
  $("opt-aud").value = typeof claims.aud === "string" ? claims.aud : Array.isArray(claims.aud) ? String(claims.aud[0] ?? "") : "";
  if (claims.aud !== undefined || claims.iss !== undefined) $("checks").open = true;
  selectTab($("tab-decode"), false);
  onTokenInput();
  $("token").focus();
}

// -- start -----------------------------------------------------------------------------------

function onCtrlEnter(ids, action) {
  for (const id of ids) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        action();
      }
    });
  }
}

function start() {
  setupTabs();
  $("token").addEventListener("input", onTokenInput);
  $("key-kind").addEventListener("change", onKeyKind);
  $("verify").addEventListener("click", onVerify);
  onCtrlEnter(["token", "key-text", "key-url", "opt-iss", "opt-aud", "opt-sub", "opt-typ", "opt-leeway"], onVerify);
  for (const id of ["key-url", "opt-iss", "opt-aud", "opt-sub", "opt-typ", "opt-leeway"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) { event.preventDefault(); onVerify(); }
    });
  }
  onKeyKind();

  $("enc-header").value = JSON.stringify({ alg: "HS256", typ: "JWT" }, null, 2);
  $("enc-claims").value = JSON.stringify({
    iss: "https://issuer.example", sub: "alice", aud: "https://api.example", iat: "now", exp: "+15m",
  }, null, 2);
  $("enc-alg").value = "HS256";
  $("enc-alg").addEventListener("change", onEncAlg);
  $("enc-key-kind").addEventListener("change", onEncKeyKind);
  $("enc-header").addEventListener("input", validateEncode);
  $("enc-claims").addEventListener("input", validateEncode);
  $("enc-generate").addEventListener("click", onGenerate);
  $("enc-sign").addEventListener("click", onSign);
  $("enc-open").addEventListener("click", onOpenEncoded);
  onCtrlEnter(["enc-header", "enc-claims", "enc-key-text"], onSign);
  onEncKeyKind();
  paintToken($("enc-paint"), "");

  window.addEventListener("resize", () => {
    autosize($("token"));
    autosize($("enc-output"));
    renderLifetime();
  });
  setInterval(() => { if (decoded.claims) renderLifetime(); }, 1000);
  onTokenInput();
}

start();
