/*
 * Confidante UI enhancements, loaded by Chainlit as `custom_js`.
 *
 * Messages are markdown with HTML switched off, so the server marks things with inline code:
 * `public`, `internal`, `regulated` (a tier) and `high confidence` (a confidence level). This
 * script only adds data attributes to those spans so that confidante.css can colour them; it
 * never changes text, never fetches anything and never reads message content beyond those spans.
 * Without it the UI still says everything in words.
 */
(function () {
  "use strict";

  var TIERS = { public: "Public", internal: "Internal", regulated: "Regulated" };
  var CONFIDENCE = /^(high|medium|low) confidence$/;

  function mark(code) {
    var text = (code.textContent || "").trim().toLowerCase();
    if (Object.prototype.hasOwnProperty.call(TIERS, text)) {
      code.setAttribute("data-cf-tier", text);
      code.setAttribute("title", TIERS[text] + " tier");
    } else {
      var match = CONFIDENCE.exec(text);
      if (match) code.setAttribute("data-cf-confidence", match[1]);
    }
    code.setAttribute("data-cf-chip", "");
  }

  function scan() {
    var codes = document.querySelectorAll(
      ".ai-message .message-content code:not([data-cf-chip]), [role='region'] code:not([data-cf-chip])"
    );
    for (var i = 0; i < codes.length; i++) {
      // Code blocks inside <pre> are code, not chips.
      if (!codes[i].closest("pre")) mark(codes[i]);
    }
  }

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      scan();
    });
  }

  function start() {
    scan();
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true, characterData: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
