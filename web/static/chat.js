// Citizen chat. Every user or corpus string goes into the page through textContent, never as HTML.
// The conversation lives in sessionStorage only: nothing personal is kept on the server.
"use strict";

(() => {
  const STORE_KEY = "cy-policy-chat:v1";
  const SESSION_KEY = "cy-policy-chat:sid"; // anonymous id for the question log; this tab only
  const PLACEHOLDER_RE = /\[(?:身份证号|手机号|银行卡号|邮箱)\]/;
  const MAX_STORED = 60; // entries (questions + answers) kept across reloads
  const TIMEOUT_MS = 20000;
  const COLLAPSE_AT = 110; // quotes longer than this (characters) start folded
  const MIN_TYPING_MS = 450; // keep the typing dots long enough to be seen

  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const log = document.getElementById("log");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("q");
  const sendBtn = document.getElementById("send");
  const counter = document.getElementById("counter");
  const clearBtn = document.getElementById("clear");
  const thread = document.getElementById("thread"); // the messages, an <ol>: a reader moves through it item by item
  const announcer = document.getElementById("announce"); // live region: the first line of each new answer
  const toAnswer = document.getElementById("to-answer"); // keyboard: from the question box to the newest answer

  let history = loadHistory();
  let busy = false;
  let uid = 0;

  // ---- small DOM helpers -------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(className, text, onClick) {
    const b = el("button", className, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function avatar(role) {
    return document.getElementById(`avatar-${role}`).content.firstElementChild.cloneNode(true);
  }

  // One list item per message; a screen reader hears who speaks before the bubble.
  function addMessage(role, bubble) {
    const msg = el("li", `msg ${role}`);
    msg.append(el("span", "visually-hidden", role === "user" ? "您的提问:" : "助手:"), avatar(role), bubble);
    thread.append(msg);
    return msg;
  }

  function callRow(phone) {
    const a = el("a", "call");
    a.href = telHref(phone || config.phone);
    const icon = el("span", "call-icon");
    icon.setAttribute("aria-hidden", "true");
    const text = el("span", "call-text", "拨打政策咨询电话 ");
    text.append(el("span", "tel-num", phone || config.phone)); // never broken at its hyphen
    a.append(icon, text);
    return a;
  }

  function telHref(phone) {
    return `tel:${String(phone).replace(/[^0-9+-]/g, "")}`;
  }

  // The quote as text nodes, with the highlighted sentences wrapped in <mark>, built from text nodes only.
  function appendMarked(node, text, marks) {
    let pos = 0;
    const spans = marks
      .map((h) => [text.indexOf(h), h.length])
      .filter(([at]) => at >= 0)
      .sort((a, b) => a[0] - b[0]);
    for (const [at, len] of spans) {
      if (at < pos) continue;
      if (at > pos) node.append(document.createTextNode(text.slice(pos, at)));
      node.append(el("mark", null, text.slice(at, at + len)));
      pos = at + len;
    }
    if (pos < text.length) node.append(document.createTextNode(text.slice(pos)));
  }

  // Polite, and only the answer's first line: the whole answer is in the list for reading on.
  // Emptied first, so that the same line twice in a row is still spoken.
  function announce(text) {
    announcer.textContent = "";
    setTimeout(() => {
      announcer.textContent = text;
    }, 60);
  }

  function firstLine(ans) {
    const lines = ans.answer.split("\n").map((s) => s.trim()).filter(Boolean);
    const key = lines.find((l) => l.startsWith("▶ "));
    let line = key ? key.slice(2) : lines[0] || "";
    if (line.length > 160) line = `${line.slice(0, 160)}…`;
    const more = ans.measures.length > 1 ? `(共 ${ans.measures.length} 条措施,详见对话记录)` : "";
    return `助手答复:${line}${more}`;
  }

  // Focus that was on something just removed (a chip, 清空) would fall back to <body>, and a keyboard
  // or screen-reader user would start again from the top of the page.
  function focusLost() {
    const a = document.activeElement;
    return !a || a === document.body || !a.isConnected;
  }

  function focusMessage(msg) {
    msg.tabIndex = -1;
    msg.focus({ preventScroll: true });
  }

  function toast(text) {
    const t = el("div", "toast", text);
    t.setAttribute("role", "status");
    document.body.append(t);
    requestAnimationFrame(() => t.classList.add("show"));
    setTimeout(() => {
      t.classList.remove("show");
      setTimeout(() => t.remove(), 300);
    }, 1600);
  }

  // ---- storage -----------------------------------------------------------------------------

  function loadHistory() {
    try {
      const items = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
      return Array.isArray(items) ? items.filter(validEntry) : [];
    } catch {
      return [];
    }
  }

  function validEntry(h) {
    if (!h || typeof h !== "object") return false;
    if (h.role === "user") return typeof h.text === "string";
    const a = h.answer;
    return h.role === "bot" && a && typeof a.answer === "string" && Array.isArray(a.measures);
  }

  function saveHistory() {
    history = history.slice(-MAX_STORED);
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(history));
    } catch {
      // Private mode or full storage: the chat still works, it just won't survive a reload.
    }
    clearBtn.hidden = history.length === 0;
  }

  // Random, not derived from anything about the person; a new one after "清空" or a new tab.
  function sessionId() {
    try {
      let sid = sessionStorage.getItem(SESSION_KEY);
      if (!sid || !/^[0-9a-f]{32}$/.test(sid)) {
        const bytes = crypto.getRandomValues(new Uint8Array(16));
        sid = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        sessionStorage.setItem(SESSION_KEY, sid);
      }
      return sid;
    } catch {
      return "";
    }
  }

  // ---- rendering ---------------------------------------------------------------------------

  function renderUser(text) {
    return addMessage("user", el("div", "bubble", text));
  }

  function measureCard(m) {
    const card = el("article", "card");
    card.dataset.id = m.id;

    const head = el("div", "card-head");
    if (m.number !== null && m.number !== undefined) head.append(el("span", "card-num", `第${m.number}条`));
    head.append(el("h3", "card-title", m.title));
    card.append(head);
    if (m.section) card.append(el("p", "card-section", m.section));

    const highlights = Array.isArray(m.highlights) ? m.highlights.filter((h) => typeof h === "string" && h) : [];
    const notes = Array.isArray(m.notes) ? m.notes : [];
    if (notes.some((n) => String(n).includes("已过"))) head.append(el("span", "badge expired", "已过期"));

    // The sentences that answer the question, visible without expanding; the full measure below.
    if (highlights.length) {
      const key = el("div", "key");
      key.append(el("span", "key-label", "原文要点"));
      for (const h of highlights) {
        const p = el("p", "key-text");
        p.append(el("mark", null, h));
        key.append(p);
      }
      card.append(key);
    }

    const quote = el("blockquote", "quote");
    appendMarked(quote, String(m.quote), highlights);
    quote.id = `quote-${++uid}`;
    card.append(quote);
    if (String(m.quote).length > COLLAPSE_AT || highlights.length) {
      quote.classList.add("collapsed");
      if (highlights.length) quote.hidden = true;
      const label = highlights.length ? "查看条文全文" : "展开全文";
      const more = button("more", label, () => {
        const open = quote.classList.toggle("collapsed") === false;
        quote.hidden = highlights.length > 0 && !open;
        more.textContent = open ? "收起" : label;
        more.setAttribute("aria-expanded", String(open));
      });
      more.setAttribute("aria-expanded", "false");
      more.setAttribute("aria-controls", quote.id);
      card.append(more);
    }

    const units = Array.isArray(m.lead_units) ? m.lead_units : [];
    if (units.length) {
      const row = el("div", "units");
      row.append(el("span", "units-label", "责任单位"));
      for (const u of units) row.append(el("span", "chip", u));
      card.append(row);
    }

    if (notes.length) {
      const list = el("ul", "notes");
      for (const n of notes) list.append(el("li", null, `提示:${n}`));
      card.append(list);
    }
    return card;
  }

  function renderAnswer(ans) {
    const bubble = el("div", "bubble wide");
    bubble.dataset.kind = ans.kind;
    const lines = ans.answer.split("\n").map((s) => s.trim()).filter(Boolean);
    if (ans.kind === "answer" && ans.measures.length) {
      // The plain-text answer opens with one "▶" line per measure (the units for "哪个部门", the
      // validity note for "还能享受吗", "文件中没有写明…"); a line that only repeats a card's own
      // highlighted sentences is left to the card.
      const shown = new Set(
        ans.measures
          .filter((m) => Array.isArray(m.highlights) && m.highlights.length)
          .map((m) => `▶ 第${m.number}条:${m.highlights.join(" ")}`),
      );
      const keys = lines.filter((l) => l.startsWith("▶ ") && !shown.has(l));
      const intro = lines.find((l) => !l.startsWith("▶ ") && !l.startsWith("提示:"));
      if (intro) bubble.append(el("p", "lead", intro));
      if (keys.length) {
        const list = el("ul", "keylines");
        for (const k of keys) list.append(el("li", null, k.slice(2)));
        bubble.append(list);
      }
      for (const m of ans.measures) bubble.append(measureCard(m));
      if (lines.length > 1) bubble.append(el("p", "foot", lines[lines.length - 1]));
    } else {
      bubble.append(el("p", "plain", lines.join("\n")));
    }
    if (typeof ans.answer_id === "string" && ans.answer_id) bubble.append(feedbackRow(ans));
    bubble.append(callRow(ans.phone));
    return addMessage("bot", bubble);
  }

  // 有帮助 / 没帮助 under an answer (issue 12). The vote is sent at once (the last one counts on
  // the server); after 没帮助 an optional comment of up to 200 characters can follow. The vote is
  // remembered on the answer object, which is the one kept in this tab's history.
  function feedbackRow(answer) {
    const row = el("div", "feedback");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "这个答复有帮助吗?");
    row.append(el("span", "fb-label", "这个答复有帮助吗?"));
    const status = el("p", "fb-status");
    status.setAttribute("role", "status");
    const form = el("form", "fb-comment");
    form.hidden = true;
    const box = el("textarea", "fb-text");
    box.maxLength = 200;
    box.rows = 2;
    box.placeholder = "哪里没帮到您?(选填,200 字以内,请勿填写身份证号、手机号)";
    box.setAttribute("aria-label", "意见(选填)");
    const submit = el("button", "fb-submit", "提交意见");
    submit.type = "submit";
    form.append(box, submit);

    async function send(helpful, comment) {
      const body = { answer_id: answer.answer_id, helpful };
      if (comment) body.comment = comment;
      try {
        const res = await fetch("/api/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
          cache: "no-store",
          credentials: "same-origin",
        });
        const data = await res.json().catch(() => null);
        if (!res.ok) throw new Error((data && data.message) || "提交失败");
        answer.vote = helpful;
        saveHistory();
        status.textContent = data.message;
        return true;
      } catch (err) {
        status.textContent = `评价没有提交成功:${err.message || "请稍后再试"}`;
        return false;
      }
    }

    const yes = button("fb-btn fb-yes", "有帮助", async () => {
      mark(true);
      form.hidden = true;
      await send(true);
    });
    const no = button("fb-btn fb-no", "没帮助", async () => {
      mark(false);
      form.hidden = false;
      if (await send(false)) status.textContent = "谢谢!可以告诉我们哪里没帮到您(选填)";
    });
    function mark(helpful) {
      yes.setAttribute("aria-pressed", String(helpful === true));
      no.setAttribute("aria-pressed", String(helpful === false));
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = box.value.trim();
      if (!text) return;
      submit.disabled = true;
      if (await send(false, text)) form.hidden = true;
      submit.disabled = false;
    });
    mark(typeof answer.vote === "boolean" ? answer.vote : null);
    row.append(yes, no, form, status);
    return row;
  }

  function renderError(title, detail, retryText) {
    const bubble = el("div", "bubble wide error");
    bubble.append(el("p", "err-title", title));
    if (detail) bubble.append(el("p", null, detail));
    const msg = addMessage("bot", bubble);
    msg.classList.add("transient");
    if (retryText) {
      bubble.append(
        button("retry", "重新发送", () => {
          msg.remove();
          ask(retryText, { retry: true });
        }),
      );
    }
    bubble.append(callRow(config.phone));
    return msg;
  }

  function showTyping() {
    const bubble = el("div", "bubble");
    const dots = el("div", "typing");
    dots.setAttribute("role", "status");
    dots.setAttribute("aria-label", "正在查询政策原文");
    dots.append(el("i"), el("i"), el("i"));
    bubble.append(dots);
    const msg = addMessage("bot", bubble);
    msg.classList.add("pending");
    return msg;
  }

  function removeQuick() {
    for (const q of log.querySelectorAll(".quick")) q.remove();
  }

  // A labelled group of chips: a screen reader hears what the buttons are for.
  function chipGroup(label, className) {
    const id = `quick-${++uid}`;
    const p = el("p", "quick-label", label);
    p.id = id;
    const list = el("div", className);
    list.setAttribute("role", "group");
    list.setAttribute("aria-labelledby", id);
    return [p, list];
  }

  // The measure ids of the last answered turn: sent with the next question, so that
  // 「那找哪个部门？」 is understood as a question about them.
  function lastContext() {
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i];
      if (h.role !== "bot") continue;
      if (h.answer.kind === "answer" && h.answer.measures.length) return h.answer.measures.map((m) => m.id);
      return [];
    }
    return [];
  }

  function lastAnswer() {
    const bots = history.filter((h) => h.role === "bot");
    return bots.length ? bots[bots.length - 1].answer : null;
  }

  function renderQuick() {
    removeQuick();
    const asked = new Set(history.filter((h) => h.role === "user").map((h) => h.text));
    const first = !history.length;
    const last = lastAnswer();
    const follow = last && Array.isArray(last.suggestions) ? last.suggestions.filter((s) => typeof s === "string") : [];
    let items = follow.length ? follow : config.suggestions.filter((s) => !asked.has(s));
    if (!items.length) items = config.suggestions.slice();
    if (!first) items = items.slice(0, 4);

    const wrap = el("div", "quick");
    const [label, list] = chipGroup(first ? "您可以直接提问,或点选常见问题:" : "您可能还想了解:", "quick-list");
    for (const s of items) list.append(button("quick-chip", s, () => ask(s)));
    wrap.append(label, list);
    if (first && Array.isArray(config.groups) && config.groups.length) {
      const [groupLabel, groups] = chipGroup("我是……(点选您的身份,查看可享受的全部政策)", "quick-list groups");
      wrap.append(groupLabel);
      for (const g of config.groups) {
        const chip = button("quick-chip group-chip", g, () => ask(`我是${g},能享受哪些政策?`));
        chip.dataset.group = g;
        groups.append(chip);
      }
      wrap.append(groups);
    }
    log.append(wrap);
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  // Long answers: show the question and the start of the answer rather than jumping past them.
  function scrollToAnswer(questionMsg) {
    if (!questionMsg) return scrollToEnd();
    const room = log.clientHeight;
    const needed = log.scrollHeight - questionMsg.offsetTop;
    if (needed > room) log.scrollTop = questionMsg.offsetTop - 8;
    else scrollToEnd();
  }

  // ---- asking ------------------------------------------------------------------------------

  async function postQuestion(text, context) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    try {
      return await fetch("/api/ask", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-Channel": "web",
          ...(sessionId() ? { "X-Session-Id": sessionId() } : {}),
        },
        body: JSON.stringify(context && context.length ? { question: text, context } : { question: text }),
        cache: "no-store",
        credentials: "same-origin",
        signal: ctrl.signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  // The server answers with the question as it kept it: ID, phone and card numbers replaced by
  // placeholders. Show and store that version, so they do not linger in this tab either.
  function forgetPersonalData(sent, kept) {
    if (typeof kept !== "string" || kept === sent || !PLACEHOLDER_RE.test(kept)) return;
    for (let i = history.length - 1; i >= 0; i--) {
      if (history[i].role === "user" && history[i].text === sent) {
        history[i].text = kept;
        break;
      }
    }
    saveHistory();
    const bubbles = log.querySelectorAll(".msg.user .bubble");
    for (let i = bubbles.length - 1; i >= 0; i--) {
      if (bubbles[i].textContent === sent) {
        bubbles[i].textContent = kept;
        break;
      }
    }
  }

  function pause(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function ask(raw, { retry = false } = {}) {
    const text = String(raw).trim();
    if (!text || busy) return;
    removeQuick();
    for (const t of log.querySelectorAll(".msg.transient")) t.remove();

    let questionMsg = null;
    if (!retry) {
      questionMsg = renderUser(text);
      history.push({ role: "user", text });
      saveHistory();
    }
    // A chip or 重新发送 was pressed and is gone: keep the keyboard's place on the question just sent
    // (not the input, which would open the on-screen keyboard on a phone).
    if (focusLost()) focusMessage(questionMsg || [...thread.querySelectorAll(".msg.user")].pop() || thread);
    // The previous turn, read before this question is in the history.
    const context = lastContext();
    busy = true;
    updateComposer();
    const typing = showTyping();
    scrollToEnd();
    const started = Date.now();

    try {
      let res;
      try {
        res = await postQuestion(text, context);
      } finally {
        await pause(Math.max(0, MIN_TYPING_MS - (Date.now() - started)));
        typing.remove();
      }
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      if (res.ok && body && typeof body.answer === "string" && Array.isArray(body.measures)) {
        forgetPersonalData(text, body.question);
        const answerMsg = renderAnswer(body);
        history.push({ role: "bot", answer: body });
        saveHistory();
        renderQuick();
        scrollToAnswer(questionMsg || [...log.querySelectorAll(".msg.user")].pop());
        arrived(answerMsg, firstLine(body));
        return;
      }
      let errorMsg;
      if (res.status >= 400 && res.status < 500 && body && body.message) {
        errorMsg = renderError("这个问题没法提交", body.message);
      } else {
        errorMsg = renderError("服务暂时出了点问题", "请稍后再试,或直接拨打政策咨询电话。", text);
      }
      renderQuick();
      scrollToEnd();
      arrived(errorMsg, `助手:${errorMsg.querySelector(".bubble").firstChild.textContent}`);
    } catch {
      // fetch() rejects only when no response came back: offline, server down, or our timeout.
      const offline = navigator.onLine === false;
      const title = offline ? "您的设备好像没有联网" : "暂时连不上咨询服务";
      const errorMsg = renderError(title, "请检查网络后点“重新发送”,也可以直接拨打政策咨询电话。", text);
      scrollToEnd();
      arrived(errorMsg, `助手:${title}`);
    } finally {
      busy = false;
      updateComposer();
    }
  }

  // A reply is in. Someone typing keeps the question box (the first line is announced, and
  // 跳到最新答复 after it leads to the reply); otherwise focus goes to the reply itself.
  function arrived(msg, line) {
    toAnswer.hidden = false;
    if (document.activeElement === input) {
      announce(line);
    } else if (focusLost() || (document.activeElement && document.activeElement.closest(".msg.user"))) {
      focusMessage(msg);
    } else {
      announce(line);
    }
  }

  toAnswer.addEventListener("click", () => {
    const msgs = thread.querySelectorAll(".msg.bot:not(.pending):not(#welcome)");
    const last = msgs[msgs.length - 1];
    if (!last) return;
    focusMessage(last);
    const user = last.previousElementSibling;
    scrollToAnswer(user && user.classList.contains("user") ? user : last);
  });

  // ---- composer ----------------------------------------------------------------------------

  function updateComposer() {
    const len = input.value.trim().length;
    sendBtn.disabled = busy || len === 0;
    const left = config.maxChars - input.value.length;
    counter.hidden = left > 50;
    counter.textContent = left >= 0 ? `还可以输入 ${left} 个字` : `超出 ${-left} 个字`;
    counter.classList.toggle("over", left < 0);
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }

  function submit() {
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    updateComposer();
    ask(text);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
    // 发送 pressed with a finger or the mouse: back to the box for the next question (发送 is
    // disabled now, and a disabled button would drop the focus to <body>).
    if (document.activeElement !== input) input.focus({ preventScroll: true });
  });
  input.addEventListener("input", updateComposer);
  input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate is not a send.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });

  clearBtn.addEventListener("click", (e) => {
    history = [];
    saveHistory();
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // nothing stored
    }
    for (const m of log.querySelectorAll(".msg:not(#welcome)")) m.remove();
    toAnswer.hidden = true;
    renderQuick();
    scrollToEnd();
    toast("对话已清空");
    // 清空 hides itself; from the keyboard (detail 0), carry on in the question box.
    if (e.detail === 0) input.focus();
  });

  // ---- start: restore this session's conversation -----------------------------------------

  for (const h of history) {
    try {
      if (h.role === "user") renderUser(h.text);
      else renderAnswer(h.answer);
    } catch {
      // A damaged entry is skipped rather than breaking the whole page.
    }
  }
  clearBtn.hidden = history.length === 0;
  toAnswer.hidden = !history.some((h) => h.role === "bot");
  renderQuick();
  updateComposer();
  scrollToEnd();
  document.body.dataset.ready = "1";
})();
