// An answer drawn as a bubble: the opening lines, one card per measure (its key sentences, the
// full quote one tap away, units, notes), the closing line. Built from text nodes only.

import { appendText, callRow, el, button, para } from "./chat-dom.js";

const COLLAPSE_AT = 110; // quotes longer than this (characters) start folded
const SENTENCE_RE = /[^。！？；]+[。！？；]?/g; // as the library splits sentences (assistant/corpus.py)
// A passed deadline's note quotes its sentence (assistant/answer.py lapsed_note): 「“…”所述期限已过…」.
const LAPSED_RE = /^“(.+)”所述期限已过/;

let uid = 0;

export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

export function sentencesOf(text) {
  return (String(text).match(SENTENCE_RE) || []).map((s) => s.trim()).filter(Boolean);
}

function stem(sentence) {
  return sentence.replace(/[。；;]+$/, "");
}

// The sentences whose deadline has passed, as the notes quote them (without the closing 。).
export function lapsedSentences(notes) {
  return notes.map((n) => LAPSED_RE.exec(String(n))).filter(Boolean).map((m) => m[1]);
}

function lapsedTag() {
  return el("span", "lapsed-tag", "已到期");
}

// The quote as text nodes: highlighted sentences in <mark>, and 「已到期」 right after each sentence
// whose deadline has passed, so that the note sits on that sentence and not on the measure.
export function appendMarked(node, text, marks, lapsed = []) {
  const spans = marks
    .map((h) => [text.indexOf(h), h.length])
    .filter(([at]) => at >= 0)
    .sort((a, b) => a[0] - b[0]);
  const tags = lapsed
    .map((s) => {
      const at = text.indexOf(s);
      if (at < 0) return -1;
      const end = at + s.length;
      return /[。；;]/.test(text[end] || "") ? end + 1 : end;
    })
    .filter((p) => p >= 0)
    .sort((a, b) => a - b);
  let pos = 0;
  const plain = (to) => {
    for (const t of tags) {
      if (t <= pos || t > to) continue;
      node.append(document.createTextNode(text.slice(pos, t)), lapsedTag());
      pos = t;
    }
    if (to > pos) node.append(document.createTextNode(text.slice(pos, to)));
    pos = to;
  };
  for (const [at, len] of spans) {
    if (at < pos) continue;
    plain(at);
    node.append(el("mark", null, text.slice(at, at + len)));
    for (const t of tags) if (t > at && t <= at + len) node.append(lapsedTag());
    pos = at + len;
  }
  plain(text.length);
}

// `compact`: a follow-up answered in its opening lines; the card keeps its title, badge and notes
// and folds the rest (key sentences, quote, units) behind one button, so the answer fits a screen.
// `primaryDoc`/`phone`: a measure of another document names that document and its own phone.
export function measureCard(m, { compact = false, primaryDoc = "", phone = "" } = {}) {
  const card = el("article", compact ? "card compact" : "card");
  card.dataset.id = m.id;
  const quoteText = String(m.quote);
  const other = Boolean(primaryDoc && m.doc && m.doc !== primaryDoc);

  const head = el("div", "card-head");
  const num = other && m.label ? m.label : m.number !== null && m.number !== undefined ? `第${m.number}条` : "";
  if (num) head.append(el("span", "card-num", num));
  head.append(el("h3", "card-title", m.title));
  card.append(head);
  if (other && m.doc_title) {
    card.append(el("p", "card-doc", `《${m.doc_title}》${m.doc_number ? `(${m.doc_number})` : ""}`));
  }
  if (m.section && !compact) card.append(el("p", "card-section", m.section));

  const highlights = Array.isArray(m.highlights) ? m.highlights.filter((h) => typeof h === "string" && h) : [];
  const notes = Array.isArray(m.notes) ? m.notes.map(String) : [];
  const lapsed = lapsedSentences(notes);
  // 已过期 on the card only when everything it answers with has passed: the highlighted sentences,
  // or the whole measure when nothing is highlighted.
  const shown = highlights.length ? highlights : sentencesOf(quoteText);
  if (lapsed.length && shown.length && shown.every((s) => lapsed.includes(stem(s)))) {
    head.append(el("span", "badge expired", "已过期"));
  }

  const folded = [];
  // The sentences that answer the question, visible without expanding; the full measure below.
  if (highlights.length) {
    const key = el("div", "key");
    key.append(el("span", "key-label", "原文要点"));
    for (const h of highlights) {
      const p = el("p", "key-text");
      p.append(el("mark", null, h));
      if (lapsed.includes(stem(h))) p.append(lapsedTag());
      key.append(p);
    }
    card.append(key);
    if (compact) folded.push(key);
  }

  const quote = el("blockquote", "quote");
  appendMarked(quote, quoteText, highlights, lapsed);
  quote.id = nextId("quote");
  card.append(quote);
  const hideQuote = compact || highlights.length > 0;
  if (hideQuote) folded.push(quote);
  if (quoteText.length > COLLAPSE_AT || hideQuote) {
    quote.classList.add("collapsed");
    const label = hideQuote ? "查看条文全文" : "展开全文";
    const more = button("more", label, () => {
      const open = quote.classList.toggle("collapsed") === false;
      for (const f of folded) f.hidden = !open;
      more.textContent = open ? "收起" : label;
      more.setAttribute("aria-expanded", String(open));
    });
    more.setAttribute("aria-expanded", "false");
    more.setAttribute("aria-controls", quote.id);
    // Folded: the button sits in the title row, so that three measures fit a phone's screen.
    if (compact) head.append(more);
    else card.append(more);
  }

  const units = Array.isArray(m.lead_units) ? m.lead_units : [];
  if (units.length) {
    const row = el("div", "units");
    row.append(el("span", "units-label", "责任单位"));
    for (const u of units) row.append(el("span", "chip", u));
    card.append(row);
    if (compact) folded.push(row);
  }
  for (const f of folded) f.hidden = true;

  if (notes.length) {
    const list = el("ul", "notes");
    for (const n of notes) list.append(appendText(el("li"), `提示:${n}`));
    card.append(list);
  }
  if (other && m.phone && m.phone !== phone) card.append(callRow(m.phone, "本文件咨询电话 "));
  return card;
}

// The plain-text answer opens with notes on the question's scope (说明:…), the group line
// (您属于“…”…共 N 条) and one "▶" line per measure; then "根据《…》…如下:", the quotes, the closing line.
export function answerBody(bubble, ans, options) {
  const lines = ans.answer.split("\n").map((s) => s.trim()).filter(Boolean);
  if (ans.kind !== "answer" || !ans.measures.length) {
    bubble.append(para("plain", lines.join("\n")));
    return;
  }
  const first = lines.findIndex((l) => l.startsWith("▶ ") || l.startsWith("根据《") || l.startsWith("【"));
  const intro = lines.slice(0, first < 0 ? 0 : first).filter((l) => !l.startsWith("提示:"));
  if (intro.length) for (const l of intro) bubble.append(para("intro", l));
  else if (!options.compact) {
    // (A follow-up is answered by its "▶" lines: 「根据《…》…如下」 would only push them down.)
    const lead = lines.find((l) => l.startsWith("根据《"));
    if (lead) bubble.append(para("lead", lead));
  }
  // A "▶" line that only repeats a card's own highlighted sentences is left to the card; the
  // others (the units for "哪个部门", the validity note for "还能享受吗", "文件中没有写明…") stay.
  const repeats = ans.measures
    .filter((m) => Array.isArray(m.highlights) && m.highlights.length)
    .map((m) => `:${m.highlights.join(" ")}`);
  const keys = lines.filter((l) => l.startsWith("▶ ") && !repeats.some((r) => l.endsWith(r)));
  if (keys.length) {
    const list = el("ul", "keylines");
    for (const k of keys) list.append(appendText(el("li"), k.slice(2)));
    bubble.append(list);
  }
  for (const m of ans.measures) bubble.append(measureCard(m, options));
  if (lines.length > 1) bubble.append(para("foot", lines[lines.length - 1]));
}

// What a screen reader hears when the answer arrives: its first line only.
export function firstLine(ans) {
  const lines = ans.answer.split("\n").map((s) => s.trim()).filter(Boolean);
  const key = lines.find((l) => l.startsWith("▶ "));
  let line = key ? key.slice(2) : lines[0] || "";
  if (line.length > 160) line = `${line.slice(0, 160)}…`;
  const more = ans.measures.length > 1 ? `(共 ${ans.measures.length} 条措施,详见对话记录)` : "";
  return `助手答复:${line}${more}`;
}
