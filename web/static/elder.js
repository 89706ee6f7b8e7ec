// 长辈模式 (large text, large buttons, stronger contrast, the phone always on screen).
// Loaded without `defer` in <head>: it only reads one localStorage flag and sets html.elder, so the
// page is never painted in the wrong mode (the CSP forbids an inline script for this). The chat's
// toggle button is wired by chat-elder.js. The flag is a display preference, nothing personal.
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
  document.addEventListener("DOMContentLoaded", () => apply(root.classList.contains("elder")));

  // Another tab switched it: follow (the chat re-measures its question box on "cy:elder").
  window.addEventListener("storage", (e) => {
    if (e.key === KEY || e.key === null) {
      apply(stored());
      document.dispatchEvent(new CustomEvent("cy:elder"));
    }
  });
})();
