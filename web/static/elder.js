// 长辈模式 (large text, large buttons, stronger contrast, the phone always on screen).
// Loaded without `defer` in <head>: it only reads one localStorage flag and sets html.elder, so the
// page is never painted in the wrong mode (the CSP forbids an inline script for this). The toggle
// button is wired once the document is parsed. The flag is a display preference, nothing personal.
"use strict";

(() => {
  const KEY = "cy-policy-chat:elder";
  const root = document.documentElement;

  function stored() {
    try {
      return localStorage.getItem(KEY) === "1";
    } catch {
      return false; // storage blocked: the mode still works for this page view
    }
  }

  function apply(on) {
    root.classList.toggle("elder", on);
    const toggle = document.getElementById("elder");
    if (toggle) toggle.setAttribute("aria-pressed", String(on));
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("elder");
    if (!toggle) return;
    apply(root.classList.contains("elder"));
    toggle.addEventListener("click", () => {
      const on = !root.classList.contains("elder");
      apply(on);
      try {
        if (on) localStorage.setItem(KEY, "1");
        else localStorage.removeItem(KEY);
      } catch {
        // not remembered, but on for this page view
      }
      // Larger text moves the conversation: keep the newest message in view.
      const log = document.getElementById("log");
      if (log) log.scrollTop = log.scrollHeight;
    });
  });

  // Another tab switched it: follow.
  window.addEventListener("storage", (e) => {
    if (e.key === KEY || e.key === null) apply(stored());
  });
})();
