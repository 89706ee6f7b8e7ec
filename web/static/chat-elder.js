// 长辈模式 in the chat: the toggle. elder.js (a classic script in <head>) sets html.elder from the
// stored flag before the first paint and follows other tabs; this module switches it and keeps
// what the reader was looking at in place while the text grows or shrinks.

const KEY = "cy-policy-chat:elder"; // the same flag elder.js reads; a display preference, nothing personal

// The message at the top of the visible part of the log and how far it is scrolled past, so
// that it stays there after the layout changes. At the very top (a new chat: the greeting and
// the privacy notice), the log stays at the top.
function readingPosition(log) {
  if (log.scrollTop <= 1) return null;
  const top = log.getBoundingClientRect().top + 1;
  let found = null;
  // The innermost block at the top edge (a card rather than the whole answer), else the next one.
  for (const node of log.querySelectorAll(".msg, .bubble > *, .card > *, .quick")) {
    const box = node.getBoundingClientRect();
    if (box.height === 0 || box.bottom <= top) continue;
    if (box.top > top) {
      if (!found) found = { msg: node, offset: 0 };
      break;
    }
    found = { msg: node, offset: (top - box.top) / Math.max(box.height, 1) };
  }
  return found;
}

function restore(log, pos) {
  if (!pos || !pos.msg.isConnected) {
    log.scrollTop = 0;
    return;
  }
  const box = pos.msg.getBoundingClientRect();
  log.scrollTop += box.top - log.getBoundingClientRect().top + pos.offset * box.height;
}

export function setElder(on) {
  const root = document.documentElement;
  root.classList.toggle("elder", on);
  document.getElementById("elder").setAttribute("aria-pressed", String(on));
  try {
    if (on) localStorage.setItem(KEY, "1");
    else localStorage.removeItem(KEY);
  } catch {
    // not remembered, but on for this page view
  }
}

// `onChange`: called after the switch (the question box re-measures its height).
export function initElder(log, onChange) {
  const toggle = document.getElementById("elder");
  toggle.setAttribute("aria-pressed", String(document.documentElement.classList.contains("elder")));
  toggle.addEventListener("click", () => {
    const pos = readingPosition(log);
    setElder(!document.documentElement.classList.contains("elder"));
    onChange();
    restore(log, pos);
  });
  // elder.js applied another tab's switch.
  document.addEventListener("cy:elder", () => onChange());
}
