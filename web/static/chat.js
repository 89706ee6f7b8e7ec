// Citizen chat, the entry module: asking, the composer, scrolling and focus. The pieces live in
// chat-state.js (the conversation), chat-cards.js (answers), chat-feedback.js, chat-suggest.js
// (chips) and chat-elder.js (长辈模式); chat-dom.js holds the small DOM helpers. Every user or
// corpus string goes into the page through textContent, never as HTML.

import { answerBody, firstLine } from "./chat-cards.js";
import { button, callRow, el, toast } from "./chat-dom.js";
import { initElder } from "./chat-elder.js";
import { feedbackRow } from "./chat-feedback.js";
import { Conversation, isFollowup, sessionId } from "./chat-state.js";
import { chooseChips, removeQuick, renderQuick } from "./chat-suggest.js";

const PLACEHOLDER_RE = /\[(?:身份证号|手机号|银行卡号|邮箱)\]/;
const TIMEOUT_MS = 20000;
const MIN_TYPING_MS = 450; // keep the typing dots long enough to be seen

const config = JSON.parse(document.getElementById("chat-config").textContent);
const primaryDoc = document.body.dataset.doc || "";
const log = document.getElementById("log");
const form = document.getElementById("ask-form");
const input = document.getElementById("q");
const sendBtn = document.getElementById("send");
const counter = document.getElementById("counter");
const clearBtn = document.getElementById("clear");
const thread = document.getElementById("thread"); // the messages, an <ol>: a reader moves through it item by item
const announcer = document.getElementById("announce"); // live region: the first line of each new answer
const toAnswer = document.getElementById("to-answer"); // keyboard: from the question box to the newest answer

const conversation = new Conversation();
let busy = false;

// ---- messages ------------------------------------------------------------------------------

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

function renderUser(text) {
  return addMessage("user", el("div", "bubble", text));
}

function renderAnswer(ans, followup = false) {
  const bubble = el("div", "bubble wide");
  bubble.dataset.kind = ans.kind;
  if (followup) bubble.dataset.followup = "1";
  answerBody(bubble, ans, { compact: followup, primaryDoc, phone: config.phone });
  if (typeof ans.answer_id === "string" && ans.answer_id) {
    bubble.append(feedbackRow(ans, () => conversation.save()));
  }
  bubble.append(callRow(ans.phone || config.phone));
  return addMessage("bot", bubble);
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

function showChips() {
  const last = conversation.lastAnswer();
  renderQuick(log, {
    items: chooseChips(config.suggestions, last, conversation.asked()),
    groups: Array.isArray(config.groups) ? config.groups : [],
    first: conversation.empty,
    onAsk: (s) => ask(s),
  });
}

// ---- focus, announcements, scrolling -------------------------------------------------------

// Polite, and only the answer's first line: the whole answer is in the list for reading on.
// Emptied first, so that the same line twice in a row is still spoken.
function announce(text) {
  announcer.textContent = "";
  setTimeout(() => {
    announcer.textContent = text;
  }, 60);
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

function lastQuestion() {
  return [...thread.querySelectorAll(".msg.user")].pop() || null;
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

// ---- asking --------------------------------------------------------------------------------

async function postQuestion(text, context) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  const sid = sessionId();
  try {
    return await fetch("/api/ask", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-Channel": "web",
        ...(sid ? { "X-Session-Id": sid } : {}),
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
  conversation.replaceQuestion(sent, kept);
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
  removeQuick(log);
  for (const t of log.querySelectorAll(".msg.transient")) t.remove();

  let questionMsg = null;
  if (!retry) {
    questionMsg = renderUser(text);
    conversation.addQuestion(text);
    clearBtn.hidden = false;
  }
  // A chip or 重新发送 was pressed and is gone: keep the keyboard's place on the question just sent
  // (not the input, which would open the on-screen keyboard on a phone).
  if (focusLost()) focusMessage(questionMsg || lastQuestion() || thread);
  // The previous turn, read before this question is in the history.
  const context = conversation.lastContext();
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
      const followup = isFollowup(context, body);
      const answerMsg = renderAnswer(body, followup);
      conversation.addAnswer(body, followup);
      showChips();
      scrollToAnswer(questionMsg || lastQuestion());
      arrived(answerMsg, firstLine(body));
      return;
    }
    let errorMsg;
    if (res.status >= 400 && res.status < 500 && body && body.message) {
      errorMsg = renderError("这个问题没法提交", body.message);
    } else {
      errorMsg = renderError("服务暂时出了点问题", "请稍后再试,或直接拨打政策咨询电话。", text);
    }
    showChips();
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

// ---- composer ------------------------------------------------------------------------------

// Grows with the text (and with the placeholder, which wraps to two lines in 长辈模式 on a phone).
function updateComposer() {
  const len = input.value.trim().length;
  sendBtn.disabled = busy || len === 0;
  const left = config.maxChars - input.value.length;
  counter.hidden = left > 50;
  counter.textContent = left >= 0 ? `还可以输入 ${left} 个字` : `超出 ${-left} 个字`;
  counter.classList.toggle("over", left < 0);
  input.style.height = "auto";
  input.style.height = `${Math.min(textHeight(), 120)}px`;
}

// The height the text needs; for an empty box, the placeholder's (scrollHeight leaves it out, and
// at 20 px on a phone it takes two lines).
function textHeight() {
  if (input.value) return input.scrollHeight;
  input.value = input.placeholder;
  const h = input.scrollHeight;
  input.value = "";
  return h;
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
  conversation.clear();
  clearBtn.hidden = true;
  for (const m of log.querySelectorAll(".msg:not(#welcome)")) m.remove();
  toAnswer.hidden = true;
  showChips();
  log.scrollTop = 0; // a new conversation starts at the greeting and the privacy notice
  toast("对话已清空");
  // 清空 hides itself; from the keyboard (detail 0), carry on in the question box.
  if (e.detail === 0) input.focus();
});

initElder(log, updateComposer);

// ---- start: restore this session's conversation -------------------------------------------

for (const h of conversation.entries) {
  try {
    if (h.role === "user") renderUser(h.text);
    else renderAnswer(h.answer, h.followup === true);
  } catch {
    // A damaged entry is skipped rather than breaking the whole page.
  }
}
clearBtn.hidden = conversation.empty;
toAnswer.hidden = !conversation.hasAnswers();
showChips();
updateComposer();
// A new chat opens at the top: the greeting, the privacy notice (to be read before the first
// question) and the phone. A restored one opens at its last question and answer.
if (conversation.empty) log.scrollTop = 0;
else scrollToAnswer(lastQuestion());
document.body.dataset.ready = "1";
