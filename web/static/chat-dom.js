// Small DOM helpers of the chat. Every user or corpus string goes into the page through
// textContent (or text nodes), never as HTML.

export const PHONE_RE = /0\d{2,3}-\d{7,8}/g; // 0532-58659939: never broken at its hyphen

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function button(className, text, onClick) {
  const b = el("button", className, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

// `text` as text nodes, each phone number in a span that does not wrap (a narrow bubble would
// otherwise break 「0532-」/「58659939」 over two lines).
export function appendText(node, text) {
  const s = String(text);
  let pos = 0;
  for (const m of s.matchAll(PHONE_RE)) {
    if (m.index > pos) node.append(document.createTextNode(s.slice(pos, m.index)));
    node.append(el("span", "tel-num", m[0]));
    pos = m.index + m[0].length;
  }
  if (pos < s.length) node.append(document.createTextNode(s.slice(pos)));
  return node;
}

export function para(className, text) {
  return appendText(el("p", className), text);
}

export function telHref(phone) {
  return `tel:${String(phone).replace(/[^0-9+-]/g, "")}`;
}

export function callRow(phone, label = "拨打政策咨询电话 ") {
  const a = el("a", "call");
  a.href = telHref(phone);
  const icon = el("span", "call-icon");
  icon.setAttribute("aria-hidden", "true");
  const text = el("span", "call-text", label);
  text.append(el("span", "tel-num", phone));
  a.append(icon, text);
  return a;
}

export function toast(text) {
  const t = el("div", "toast", text);
  t.setAttribute("role", "status");
  document.body.append(t);
  requestAnimationFrame(() => t.classList.add("show"));
  setTimeout(() => {
    t.classList.remove("show");
    setTimeout(() => t.remove(), 300);
  }, 1600);
}
