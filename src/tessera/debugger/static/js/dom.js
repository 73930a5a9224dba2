// Small DOM helpers: elements are built with textContent only, never innerHTML.

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Colour a token's segments in ``pre``: header, claims, signature (JWE: five parts). */
export function paintToken(pre, text) {
  pre.replaceChildren();
  const parts = text.split(".");
  const classes = parts.length === 5
    ? ["seg-h", "seg-x", "seg-p", "seg-x", "seg-s"]
    : ["seg-h", "seg-p", "seg-s"];
  parts.forEach((part, index) => {
    if (index > 0) pre.append(el("span", { class: "seg-dot" }, "."));
    pre.append(el("span", { class: classes[index] ?? "seg-x" }, part));
  });
  // A trailing newline keeps the painted height equal to the textarea's.
  pre.append("\n");
}

/** JSON, indented and coloured, as DOM nodes in ``pre``. */
export function renderJson(pre, value) {
  pre.replaceChildren();
  const out = [];
  const walk = (v, indent) => {
    const pad = "  ".repeat(indent);
    if (indent > 40) {
      out.push("…");
    } else if (v === null || typeof v === "boolean") {
      out.push(el("span", { class: "j-lit" }, String(v)));
    } else if (typeof v === "number") {
      out.push(el("span", { class: "j-num" }, String(v)));
    } else if (typeof v === "string") {
      out.push(el("span", { class: "j-str" }, JSON.stringify(v)));
    } else if (Array.isArray(v)) {
      if (v.length === 0) { out.push("[]"); return; }
      out.push("[\n");
      v.forEach((item, i) => {
        out.push(`${pad}  `);
        walk(item, indent + 1);
        out.push(i < v.length - 1 ? ",\n" : "\n");
      });
      out.push(`${pad}]`);
    } else {
      const entries = Object.entries(v);
      if (entries.length === 0) { out.push("{}"); return; }
      out.push("{\n");
      entries.forEach(([key, item], i) => {
        out.push(`${pad}  `, el("span", { class: "j-key" }, JSON.stringify(key)), ": ");
        walk(item, indent + 1);
        out.push(i < entries.length - 1 ? ",\n" : "\n");
      });
      out.push(`${pad}}`);
    }
  };
  walk(value, 0);
  pre.append(...out);
}

/** Grow a textarea to fit its text (the painted layer under it follows). */
export function autosize(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${textarea.scrollHeight + 2}px`;
}
