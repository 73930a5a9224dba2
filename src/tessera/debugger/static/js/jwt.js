// Decoding in the browser, for display only: base64url + UTF-8 + JSON.parse.
// Verification and encoding always go to the server (one implementation of the format).

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Bytes of a base64url segment, or throws with a reason a person can act on. */
export function b64urlDecode(segment) {
  if (!B64URL.test(segment)) {
    throw new Error("contains characters outside base64url (A-Z a-z 0-9 - _)");
  }
  if (segment.length % 4 === 1) {
    throw new Error("has an impossible base64url length");
  }
  const padded = segment.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((segment.length + 3) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A segment's JSON value; throws naming what went wrong. */
export function decodeJsonSegment(segment) {
  const bytes = b64urlDecode(segment);
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("is not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error("is not JSON");
  }
}

/** Whitespace and a leading "Bearer " removed: what people paste from headers and logs. */
export function cleanToken(text) {
  return text.trim().replace(/^bearer\s+/i, "");
}

/**
 * Decode a compact token for display.
 * Returns {token, segments, kind, header, claims, errors} where kind is "jws", "jwe" or null.
 */
export function decodeToken(text) {
  const token = cleanToken(text);
  const result = { token, segments: [], kind: null, header: null, claims: null, errors: [] };
  if (!token) return result;
  if (/\s/.test(token)) {
    result.errors.push("the token contains whitespace");
    return result;
  }
  const segments = token.split(".");
  result.segments = segments;
  if (segments.length === 5) {
    result.kind = "jwe";
  } else if (segments.length === 3) {
    result.kind = "jws";
  } else {
    result.errors.push(`a JWT has 3 segments separated by dots; this has ${segments.length}`);
  }
  if (segments.length >= 1) {
    try {
      result.header = decodeJsonSegment(segments[0]);
      if (result.header === null || typeof result.header !== "object" || Array.isArray(result.header)) {
        result.errors.push("the header is not a JSON object");
        result.header = null;
      }
    } catch (err) {
      result.errors.push(`the header ${err.message}`);
    }
  }
  if (result.kind === "jwe") {
    result.errors.push("this is an encrypted token (JWE): its claims cannot be shown without the key");
    return result;
  }
  if (segments.length >= 2) {
    try {
      result.claims = decodeJsonSegment(segments[1]);
      if (result.claims === null || typeof result.claims !== "object" || Array.isArray(result.claims)) {
        result.errors.push("the claims are not a JSON object");
        result.claims = null;
      }
    } catch (err) {
      result.errors.push(`the claims segment ${err.message}`);
    }
  }
  if (segments.length === 3) {
    try {
      b64urlDecode(segments[2]);
    } catch (err) {
      result.errors.push(`the signature ${err.message}`);
    }
  }
  return result;
}
