// The page's calls to its own server: JSON in, JSON out, relative to <base href>.

const TIMEOUT_MS = 15000;

/**
 * POST ``body`` to ``api/<path>``.
 * Resolves to {ok, status, data}; status 0 with offline true when the server did not answer.
 */
export async function post(path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(new URL(`api/${path}`, document.baseURI), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = { error: { code: "bad_response", message: `the server answered HTTP ${response.status}` } };
    }
    return { ok: response.ok, status: response.status, data };
  } catch {
    return {
      ok: false, status: 0, offline: true,
      data: { error: { code: "offline", message: "this page's server did not answer" } },
    };
  } finally {
    clearTimeout(timer);
  }
}
