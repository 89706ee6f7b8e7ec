// Quick-reply chips: starter questions and "我是……" groups on an empty chat, the answer's own
// next questions after it.

import { button, el } from "./chat-dom.js";
import { nextId } from "./chat-cards.js";

// Which questions to offer after `last` (null on an empty chat). A chip never repeats what the
// bubble above it already lists (the greeting's and the clarify reply's four examples), nor a
// question already asked.
export function chooseChips(starters, last, asked) {
  const first = !last;
  const follow = last && Array.isArray(last.suggestions) ? last.suggestions.filter((s) => typeof s === "string") : [];
  const inBubble = (s) => Boolean(last && typeof last.answer === "string" && last.answer.includes(s));
  let items = (follow.length ? follow : starters.filter((s) => !asked.has(s))).filter((s) => !inBubble(s));
  if (!items.length) items = starters.filter((s) => !inBubble(s));
  return first ? items : items.slice(0, 4);
}

// A labelled group of chips: a screen reader hears what the buttons are for.
function chipGroup(label, className) {
  const p = el("p", "quick-label", label);
  p.id = nextId("quick");
  const list = el("div", className);
  list.setAttribute("role", "group");
  list.setAttribute("aria-labelledby", p.id);
  return [p, list];
}

export function removeQuick(log) {
  for (const q of log.querySelectorAll(".quick")) q.remove();
}

export function renderQuick(log, { items, groups = [], first = false, onAsk }) {
  removeQuick(log);
  const wrap = el("div", "quick");
  if (items.length) {
    const [label, list] = chipGroup(first ? "您可以直接提问,或点选常见问题:" : "您可能还想了解:", "quick-list");
    for (const s of items) list.append(button("quick-chip", s, () => onAsk(s)));
    wrap.append(label, list);
  }
  if (first && groups.length) {
    const [label, list] = chipGroup("我是……(点选您的身份,查看可享受的全部政策)", "quick-list groups");
    for (const g of groups) {
      const chip = button("quick-chip group-chip", g, () => onAsk(`我是${g},能享受哪些政策?`));
      chip.dataset.group = g;
      list.append(chip);
    }
    wrap.append(label, list);
  }
  if (wrap.childElementCount) log.append(wrap);
}
