// The token's life as an SVG: iat, nbf and exp on a line, with "now", and its state.

import { isNumericDate, phrase, relative } from "./time.js";

const SVG = "http://www.w3.org/2000/svg";
const H = 128;
const AXIS = 70;
const EDGE = 16;

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function times(claims) {
  const pick = (name) => (claims && isNumericDate(claims[name]) ? claims[name] : null);
  return { iat: pick("iat"), nbf: pick("nbf"), exp: pick("exp") };
}

/** {state, label} from the times alone: "not-yet-valid", "valid", "expired" or "none". */
export function lifetimeState(claims, now) {
  if (!claims) return { state: "none", label: "no token" };
  const { iat, nbf, exp } = times(claims);
  if (nbf !== null && now < nbf) return { state: "not-yet-valid", label: "not yet valid" };
  if (iat !== null && iat > now) return { state: "future", label: "issued in the future" };
  if (exp !== null && now >= exp) return { state: "expired", label: "expired" };
  if (exp === null) return { state: "valid", label: "valid, never expires" };
  return { state: "valid", label: "valid" };
}

function summary(claims, now, state) {
  const { iat, nbf, exp } = times(claims);
  const parts = [];
  if (iat !== null) parts.push(phrase("iat", iat, now));
  if (nbf !== null) parts.push(phrase("nbf", nbf, now));
  parts.push(exp !== null ? phrase("exp", exp, now) : "never expires");
  return `${parts.join(", ")}: ${state.label}.`;
}

/** Draw the timeline into ``container``; returns the state. */
export function renderTimeline(container, claims, now) {
  // Drawn at the container's real width, so the text stays readable on a phone.
  const W = Math.max(280, Math.min(900, Math.round(container.clientWidth || 640)));
  container.replaceChildren();
  const state = lifetimeState(claims, now);
  if (!claims) return state;
  const t = times(claims);
  const events = [];
  for (const name of ["iat", "nbf", "exp"]) {
    if (t[name] === null) continue;
    const same = events.find((e) => e.time === t[name]);
    if (same) same.names.push(name);
    else events.push({ time: t[name], names: [name] });
  }
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "timeline-title" });
  root.append(svg("title", { id: "timeline-title" }, summary(claims, now, state)));
  if (events.length === 0) {
    root.append(svg("text", { x: W / 2, y: AXIS, "text-anchor": "middle", class: "tl-sub" },
      "no exp, nbf or iat: this token has no time limits"));
    container.append(root);
    return state;
  }
  let lo = Math.min(now, ...events.map((e) => e.time));
  let hi = Math.max(now, ...events.map((e) => e.time));
  if (hi - lo < 60) { lo -= 30; hi += 30; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const x = (time) => EDGE + ((time - lo) / (hi - lo)) * (W - 2 * EDGE);
  const left = EDGE;
  const right = W - EDGE;
  const start = t.nbf ?? t.iat;
  const zones = [];
  if (start !== null) zones.push(["tl-before", left, x(start), "not yet valid"]);
  zones.push(["tl-valid", start !== null ? x(start) : left, t.exp !== null ? x(t.exp) : right, "valid"]);
  if (t.exp !== null) zones.push(["tl-after", x(t.exp), right, "expired"]);
  for (const [cls, from, to, label] of zones) {
    if (to - from <= 0) continue;
    root.append(svg("rect", { x: from, y: AXIS - 14, width: to - from, height: 28, class: cls }));
    if (to - from > label.length * 7 + 10) {
      root.append(svg("text", { x: (from + to) / 2, y: AXIS + 4, "text-anchor": "middle", class: "tl-zone-label" }, label));
    }
  }
  root.append(svg("line", { x1: left, y1: AXIS + 14, x2: right, y2: AXIS + 14, class: "tl-axis" }));

  // Labels alternate above and below the axis when they would collide.
  const lanes = [-Infinity, -Infinity];
  let lowLane = false;
  const nx = x(now);
  events.sort((a, b) => a.time - b.time);
  for (const event of events) {
    const px = x(event.time);
    const name = event.names.join(" = ");
    const width = Math.max(name.length * 8, relative(event.time, now).length * 6.2) + 12;
    const anchor = px < width / 2 ? "start" : px > W - width / 2 ? "end" : "middle";
    const from = anchor === "start" ? px : anchor === "end" ? px - width : px - width / 2;
    // The "now" line crosses the upper lane: a label it would cut goes below instead.
    const cut = from - 4 <= nx && nx <= from + width + 4;
    let lane = 0;
    if (from < lanes[0] || cut) lane = from >= lanes[1] || lanes[1] < lanes[0] || cut ? 1 : 0;
    lanes[lane] = from + width;
    if (lane === 1) lowLane = true;
    const [nameY, subY, y1, y2] = lane === 0 ? [28, 42, 46, AXIS + 16] : [104, 118, AXIS - 16, 92];
    root.append(svg("line", { x1: px, y1, x2: px, y2, class: "tl-tick" }));
    root.append(svg("text", { x: px, y: nameY, "text-anchor": anchor, class: "tl-label" }, name));
    root.append(svg("text", { x: px, y: subY, "text-anchor": anchor, class: "tl-sub" }, relative(event.time, now)));
  }
  const nowAnchor = nx < 40 ? "start" : nx > W - 40 ? "end" : "middle";
  root.append(svg("line", { x1: nx, y1: 14, x2: nx, y2: AXIS + 22, class: "tl-now" }));
  root.append(svg("text", { x: nx, y: 11, "text-anchor": nowAnchor, class: "tl-now-label" }, "now"));
  // Without labels under the band, the picture ends just below it.
  if (!lowLane) root.setAttribute("viewBox", `0 0 ${W} ${AXIS + 26}`);
  container.append(root);
  return state;
}
