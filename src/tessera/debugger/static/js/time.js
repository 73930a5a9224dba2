// Times as people read them: local date, UTC and relative ("expires in 4 min").

/** True for a finite JSON number usable as a NumericDate. */
export function isNumericDate(value) {
  return typeof value === "number" && Number.isFinite(value) && Math.abs(value) < 8.64e12;
}

function date(seconds) {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "31 Jan 2025, 13:00:00 CET" in the browser's zone. */
export function formatLocal(seconds) {
  const d = date(seconds);
  if (!d) return "out of range";
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
}

/** "2025-01-31 12:00:00 UTC". */
export function formatUtc(seconds) {
  const d = date(seconds);
  if (!d) return "out of range";
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "14 s", "4 min", "3 h", "12 days". */
export function span(seconds) {
  const s = Math.abs(seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  const days = Math.round(s / 86400);
  if (days < 700) return days === 1 ? "1 day" : `${days} days`;
  return `${Math.round(days / 365)} years`;
}

/** "in 4 min", "3 min ago" or "now". */
export function relative(seconds, now) {
  const delta = seconds - now;
  if (Math.abs(delta) < 1) return "now";
  return delta > 0 ? `in ${span(delta)}` : `${span(delta)} ago`;
}

/** A sentence for a time claim: "expires in 4 min", "issued 3 min ago". */
export function phrase(name, seconds, now) {
  const rel = relative(seconds, now);
  const future = seconds > now;
  switch (name) {
    case "exp": return future ? `expires ${rel}` : `expired ${rel}`;
    case "nbf": return future ? `becomes valid ${rel}` : `valid since ${rel}`;
    case "iat": return future ? `issued ${rel}, in the future` : `issued ${rel}`;
    case "auth_time": return `signed in ${rel}`;
    default: return rel;
  }
}
