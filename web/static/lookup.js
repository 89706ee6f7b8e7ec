// Hotline lookup: keyboard navigation and "复制答复". The page itself works without this script.
"use strict";

(() => {
  const search = document.getElementById("q");
  const maxNumber = Number(document.body.dataset.maxNumber || 0);
  const detail = document.querySelector(".lk-detail");
  const answers = new Map(); // chunk id → ready answer text, fetched once
  const NUMBER_RE = /^\s*第?\s*(\d{1,3})\s*条?\s*$/;
  // The id of the search results this page shows or was opened from (never the question itself).
  const resultId = document.body.dataset.result || "";

  // ---- feedback ----------------------------------------------------------------------------

  function toast(text) {
    const t = document.createElement("div");
    t.className = "toast";
    t.setAttribute("role", "status");
    t.textContent = text;
    document.body.append(t);
    requestAnimationFrame(() => t.classList.add("show"));
    setTimeout(() => {
      t.classList.remove("show");
      setTimeout(() => t.remove(), 300);
    }, 1500);
  }

  let hint = null;
  function showHint(text) {
    if (!hint) {
      hint = document.createElement("div");
      hint.className = "jump-hint";
      hint.setAttribute("role", "status");
      document.body.append(hint);
    }
    hint.textContent = text;
  }
  function hideHint() {
    if (hint) hint.remove();
    hint = null;
  }

  // ---- jump to a measure by typing its number ------------------------------------------------

  function measureUrl(n) {
    return `/lookup/m${n}` + (resultId ? `?r=${encodeURIComponent(resultId)}` : "");
  }

  let digits = "";
  let digitTimer = 0;

  function jump() {
    clearTimeout(digitTimer);
    const n = Number(digits);
    digits = "";
    if (n >= 1 && n <= maxNumber) {
      showHint(`正在打开第 ${n} 条…`);
      location.href = measureUrl(n);
    } else {
      showHint(`没有第 ${n} 条(共 ${maxNumber} 条)`);
      setTimeout(hideHint, 1200);
    }
  }

  function typeDigit(d) {
    clearTimeout(digitTimer);
    digits = (digits + d).replace(/^0+/, "");
    if (!digits) return;
    showHint(`跳到第 ${digits} 条`);
    // Wait for a second digit only while one could still follow (with 20 measures: after "1" or "2").
    if (Number(digits) * 10 > maxNumber) jump();
    else digitTimer = setTimeout(jump, 700);
  }

  if (search && search.form) {
    search.form.addEventListener("submit", (e) => {
      const m = search.value.match(NUMBER_RE);
      const n = m ? Number(m[1]) : 0;
      if (n >= 1 && n <= maxNumber) {
        e.preventDefault();
        location.href = measureUrl(n);
      }
    });
  }

  // ---- keyboard ----------------------------------------------------------------------------

  function isField(node) {
    return Boolean(node && node.closest && node.closest("input, textarea, select, [contenteditable='true']"));
  }

  function navItems() {
    return [...document.querySelectorAll("[data-nav]")].filter((a) => a.offsetParent !== null);
  }

  function moveFocus(delta, fromSearch) {
    const items = navItems();
    if (!items.length) return false;
    const i = fromSearch ? -1 : items.indexOf(document.activeElement);
    if (delta < 0 && i <= 0) {
      if (i === 0 && search) search.focus();
      return i === 0;
    }
    const next = items[i < 0 ? 0 : Math.min(i + delta, items.length - 1)];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
    return true;
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const inField = isField(e.target);

    if (e.key === "/" && !inField && search) {
      e.preventDefault();
      search.focus();
      search.select();
      return;
    }
    if (e.key === "Escape") {
      if (inField) e.target.blur();
      else if (detail) location.href = document.querySelector("[data-back]").href;
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (inField && e.target !== search) return;
      if (e.target === search && e.key === "ArrowUp") return;
      if (moveFocus(e.key === "ArrowDown" ? 1 : -1, e.target === search)) e.preventDefault();
      return;
    }
    if (inField) return;
    if (detail && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
      const link = document.querySelector(e.key === "ArrowLeft" ? 'a[rel="prev"]' : 'a[rel="next"]');
      if (link) location.href = link.href;
      return;
    }
    if (detail && (e.key === "c" || e.key === "C")) {
      e.preventDefault();
      document.getElementById("copy-answer").click();
      return;
    }
    if (/^[0-9]$/.test(e.key) && maxNumber) {
      e.preventDefault();
      typeDigit(e.key);
    }
  });

  // ---- 复制答复 ------------------------------------------------------------------------------

  async function answerText(button) {
    if (button.dataset.target) return document.getElementById(button.dataset.target).textContent;
    const id = button.dataset.id;
    if (!answers.has(id)) {
      const res = await fetch(`/api/measures/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      answers.set(id, (await res.json()).answer);
    }
    return answers.get(id);
  }

  function execCopy(text) {
    // For plain-http intranet use, where navigator.clipboard does not exist.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }

  async function copy(button) {
    const text = answerText(button);
    if (navigator.clipboard && window.isSecureContext) {
      try {
        if (window.ClipboardItem && navigator.clipboard.write) {
          // Handing the clipboard a promise keeps the click's user activation while the text loads.
          const blob = text.then((t) => new Blob([t], { type: "text/plain" }));
          await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
        } else {
          await navigator.clipboard.writeText(await text);
        }
        return true;
      } catch {
        // fall through to the legacy path
      }
    }
    try {
      return execCopy(await text);
    } catch {
      return false;
    }
  }

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button.copy");
    if (!button) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    const ok = await copy(button);
    button.classList.toggle("done", ok);
    button.textContent = ok ? "已复制 ✓" : "复制失败";
    toast(ok ? "答复已复制,可直接粘贴" : "复制失败,请打开详情页手动选择文字复制");
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove("done");
    }, 1800);
  });

  // ---- the sentences that answered the search, marked on the detail page too -------------
  // The search itself stays out of URLs; the marked sentences (corpus text, not the question)
  // travel to the detail page in this tab's sessionStorage.
  const MARKS_KEY = "cy-lookup:marks";

  document.addEventListener("click", (e) => {
    const link = e.target.closest(".lk-card[data-marks] a.lk-card-link");
    if (!link) return;
    const card = link.closest(".lk-card");
    try {
      sessionStorage.setItem(MARKS_KEY, JSON.stringify({ id: card.dataset.id, marks: JSON.parse(card.dataset.marks) }));
    } catch {
      // storage unavailable: the detail page simply shows no marks
    }
  });

  function markDetail() {
    const text = detail && detail.querySelector(".fulltext");
    if (!text) return;
    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(MARKS_KEY) || "null");
    } catch {
      saved = null;
    }
    if (!saved || saved.id !== detail.dataset.id || !Array.isArray(saved.marks)) return;
    const full = text.textContent;
    const spans = saved.marks
      .filter((m) => typeof m === "string" && m && full.includes(m))
      .map((m) => [full.indexOf(m), m.length])
      .sort((a, b) => a[0] - b[0]);
    if (!spans.length) return;
    text.textContent = "";
    let pos = 0;
    for (const [at, len] of spans) {
      if (at < pos) continue;
      text.append(document.createTextNode(full.slice(pos, at)));
      const mark = document.createElement("mark");
      mark.textContent = full.slice(at, at + len);
      text.append(mark);
      pos = at + len;
    }
    text.append(document.createTextNode(full.slice(pos)));
  }
  markDetail();

  // ---- a result id this server no longer knows --------------------------------------------
  // Result ids live 30 minutes in one server process's memory: after a restart, a long pause or
  // on another worker, Back or reload finds "检索已过期". When this tab made that search, its
  // question is still in the search box's history here (sessionStorage: this tab only, gone when
  // it closes), so the search is re-run and the expired entry replaced, not added to history.
  const SEARCHES_KEY = "cy-lookup:searches";
  const KEEP_SEARCHES = 20;

  function savedSearches() {
    try {
      const all = JSON.parse(sessionStorage.getItem(SEARCHES_KEY) || "{}");
      return all && typeof all === "object" ? all : {};
    } catch {
      return {};
    }
  }

  function rememberSearch() {
    const form = document.getElementById("lk-refine");
    if (!resultId || !form || !search || !search.form) return;
    const fields = {};
    for (const [k, v] of new FormData(search.form)) if (typeof v === "string") fields[k] = v;
    fields.q = form.elements.q.value;
    const all = savedSearches();
    delete all[resultId];
    all[resultId] = fields;
    const ids = Object.keys(all);
    for (const old of ids.slice(0, Math.max(0, ids.length - KEEP_SEARCHES))) delete all[old];
    try {
      sessionStorage.setItem(SEARCHES_KEY, JSON.stringify(all));
    } catch {
      // storage unavailable: an expired id then simply asks for a new search
    }
  }

  async function rerunExpired() {
    const m = location.pathname.match(/^\/lookup\/r\/([A-Za-z0-9_-]+)$/);
    if (!document.body.dataset.expired || !m) return;
    const fields = savedSearches()[m[1]];
    if (!fields || typeof fields.q !== "string" || !fields.q) return;
    try {
      const res = await fetch("/lookup", { method: "POST", body: new URLSearchParams(fields) });
      if (res.ok && res.redirected && /\/lookup\/r\//.test(new URL(res.url).pathname)) location.replace(res.url);
    } catch {
      // offline: the notice stays, and the search box is there
    }
  }

  if (!document.body.dataset.expired) rememberSearch();
  rerunExpired();
})();
