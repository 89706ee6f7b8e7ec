// The conversation: questions and answers of this tab, kept in sessionStorage only (nothing
// personal is kept on the server), and what the next question needs from it.

const STORE_KEY = "cy-policy-chat:v1";
const SESSION_KEY = "cy-policy-chat:sid"; // anonymous id for the question log; this tab only
const MAX_STORED = 60; // entries (questions + answers) kept across reloads

function validEntry(h) {
  if (!h || typeof h !== "object") return false;
  if (h.role === "user") return typeof h.text === "string";
  const a = h.answer;
  return h.role === "bot" && a && typeof a.answer === "string" && Array.isArray(a.measures);
}

function load() {
  try {
    const items = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(items) ? items.filter(validEntry) : [];
  } catch {
    return [];
  }
}

export class Conversation {
  constructor() {
    this.entries = load();
  }

  get empty() {
    return this.entries.length === 0;
  }

  hasAnswers() {
    return this.entries.some((h) => h.role === "bot");
  }

  save() {
    this.entries = this.entries.slice(-MAX_STORED);
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(this.entries));
    } catch {
      // Private mode or full storage: the chat still works, it just won't survive a reload.
    }
  }

  addQuestion(text) {
    this.entries.push({ role: "user", text });
    this.save();
  }

  // `followup`: the question was sent with the previous answer's measures and was answered from
  // them; kept with the answer so that a reload draws it the same (folded) way.
  addAnswer(answer, followup = false) {
    this.entries.push(followup ? { role: "bot", answer, followup: true } : { role: "bot", answer });
    this.save();
  }

  clear() {
    this.entries = [];
    this.save();
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // nothing stored
    }
  }

  // The server answers with the question as it kept it (personal data replaced by placeholders):
  // keep that version, so that it does not linger in this tab either.
  replaceQuestion(sent, kept) {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].role === "user" && this.entries[i].text === sent) {
        this.entries[i].text = kept;
        break;
      }
    }
    this.save();
  }

  // The measure ids of the last answered turn: sent with the next question, so that
  // 「那找哪个部门？」 is understood as a question about them.
  lastContext() {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const h = this.entries[i];
      if (h.role !== "bot") continue;
      if (h.answer.kind === "answer" && h.answer.measures.length) return h.answer.measures.map((m) => m.id);
      return [];
    }
    return [];
  }

  lastAnswer() {
    const bots = this.entries.filter((h) => h.role === "bot");
    return bots.length ? bots[bots.length - 1].answer : null;
  }

  asked() {
    return new Set(this.entries.filter((h) => h.role === "user").map((h) => h.text));
  }
}

// A follow-up: sent with the previous answer's measures and answered from those same measures.
export function isFollowup(context, answer) {
  if (!context.length || answer.kind !== "answer" || !answer.measures.length) return false;
  return answer.measures.every((m) => context.includes(m.id));
}

// Random, not derived from anything about the person; a new one after "清空" or a new tab. Written in the letters
// a–p (one per 4 random bits, 128 bits in all), never digits: about 1 in 600 hex ids held a run the server's redactor
// reads as a phone or passport number (…3087… → 179 3030 874) and dropped, and that tab's questions lost their session.
export function sessionId() {
  try {
    let sid = sessionStorage.getItem(SESSION_KEY);
    if (!sid || !/^[a-p]{32}$/.test(sid)) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      const letter = (n) => String.fromCharCode(97 + n);
      sid = Array.from(bytes, (b) => letter(b >> 4) + letter(b & 15)).join("");
      sessionStorage.setItem(SESSION_KEY, sid);
    }
    return sid;
  } catch {
    return "";
  }
}
