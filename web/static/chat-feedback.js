// 有帮助 / 没帮助 under an answer (issue 12). The vote is sent at once (the last one counts on the
// server); after 没帮助 an optional comment of up to 200 characters can follow. The vote is
// remembered on the answer object, which is the one kept in this tab's history (`onVote` saves it).

import { button, el } from "./chat-dom.js";

export function feedbackRow(answer, onVote) {
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

  // Only the latest request speaks: a comment submitted while the 没帮助 vote is still on its way may be answered
  // first, and the vote's later reply must not put the comment prompt back over 「感谢…」.
  let latest = 0;
  async function send(helpful, comment) {
    const mine = ++latest;
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
      onVote();
      if (mine === latest) status.textContent = data.message;
      return mine === latest;
    } catch (err) {
      if (mine === latest) status.textContent = `评价没有提交成功:${err.message || "请稍后再试"}`;
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
