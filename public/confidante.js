/*
 * Confidante UI enhancements, loaded by Chainlit as `custom_js`.
 *
 * Messages are markdown with HTML switched off, so the server marks things with inline code:
 * `public`, `internal`, `regulated` (a tier) and `high confidence` (a confidence level). This
 * script only adds data attributes to those spans so that confidante.css can colour them; it
 * never changes text and never reads message content beyond those spans.
 * Without it the UI still says everything in words.
 *
 * The header's "Admin console" link (`.chainlit/config.toml`) stays hidden (confidante.css) until
 * Chainlit's own `/user` endpoint says the signed-in account is an administrator: one same-origin
 * GET each time the header (re)appears, the only request this script makes. The console checks the role again.
 *
 * It also gives Chainlit's icon-only buttons (and the welcome icon) the accessible names they
 * lack, so screen-reader and voice-control users can find them; it never overrides a name.
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

  // Chainlit's icon-only buttons, by id or by their lucide icon.
  var BUTTON_NAMES = [
    ["#new-chat-button", "New chat"],
    ["#upload-button", "Attach files"],
    ["#chat-submit", "Send message"],
    ["#stop-button", "Stop generating"],
    ["#sidebar-trigger-button", "Toggle chat history"],
    ["#search-chats-button", "Search chats"],
    ["#user-nav-button", "Account menu"],
    ["#chat-settings-open-modal", "Chat settings"],
    ["#thread-options", "Chat options"],
    ["button:has(> svg.lucide-copy)", "Copy answer"],
    ["button:has(> svg.lucide-check)", "Copied"],
    ["button:has(> svg.lucide-thumbs-up)", "Helpful"],
    ["button:has(> svg.lucide-thumbs-down)", "Not helpful"],
    // Shown only while the chat is scrolled up (e.g. when a receipt opens): easy to miss in tests.
    ["button.rounded-full:has(> svg.lucide-arrow-down)", "Scroll to the latest message"],
  ];

  function name(selector, label) {
    var nodes = document.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (!node.getAttribute("aria-label") && !(node.textContent || "").trim()) {
        node.setAttribute("aria-label", label);
      }
    }
  }

  // A wrong password makes Chainlit show its raw API error ("Unauthorized: credentialssignin")
  // in a toast next to the form's own, translated sentence: hide that toast (never the form's).
  var RAW_SIGN_IN_ERROR = /^Unauthorized: credentialssignin$/i;

  function quietSignInToast() {
    var toasts = document.querySelectorAll("[data-sonner-toast]:not([data-cf-hidden])");
    for (var t = 0; t < toasts.length; t++) {
      if (RAW_SIGN_IN_ERROR.test((toasts[t].textContent || "").trim())) {
        toasts[t].style.display = "none";
        toasts[t].setAttribute("data-cf-hidden", "");
      }
    }
    var user = document.querySelector("form input#email:not([autocomplete])");
    if (user) user.setAttribute("autocomplete", "username");
  }

  // Chainlit 2.12 opens its side panel by itself, with every cited passage of the whole chat,
  // whenever an answer brings one (on a phone it covers the chat). A passage should open only
  // when the user clicks its citation, and show only that one: a panel that appears, or whose
  // content changes, without a citation click just before is closed again.
  var lastCitationClick = 0;
  var shownPanel = "";
  document.addEventListener(
    "click",
    function (event) {
      var target = event.target;
      if (target && target.closest && target.closest(".element-link")) lastCitationClick = Date.now();
    },
    true
  );

  function closeUnaskedPanel() {
    var title = document.getElementById("side-view-title");
    var content = document.getElementById("side-view-content");
    if (!title || !content) {
      shownPanel = "";
      return;
    }
    var state = (title.textContent || "") + "|" + content.childElementCount;
    if (state === shownPanel) return;
    shownPanel = state;
    if (Date.now() - lastCitationClick < 2000) return; // the user asked for this passage
    var dialog = title.closest("[role='dialog']");
    var close = dialog ? dialog.querySelector("button:has(> svg.lucide-x)") : title.querySelector("button");
    if (close) {
      close.click();
    } else {
      document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    }
  }

  function label() {
    closeUnaskedPanel();
    quietSignInToast();
    // The login form's show/hide password toggle: its name follows its icon.
    var eyes = document.querySelectorAll("button:has(> svg.lucide-eye), button:has(> svg.lucide-eye-off)");
    for (var e = 0; e < eyes.length; e++) {
      var hidden = !!eyes[e].querySelector("svg.lucide-eye");
      eyes[e].setAttribute("aria-label", hidden ? "Show password" : "Hide password");
    }
    // Chainlit marks the (focusable, clickable) attach button as presentational, which hides it
    // from assistive technology; it is a button.
    var attach = document.querySelector("#upload-button[role='presentation']");
    if (attach) attach.removeAttribute("role");
    // Each chat's "…" menu trigger is a div that behaves as a button (it has a popup).
    var options = document.querySelectorAll("#thread-options:not([role])");
    for (var k = 0; k < options.length; k++) options[k].setAttribute("role", "button");
    // The history sidebar wraps its groups in a <ul> that holds no list items: not a list.
    var menus = document.querySelectorAll("ul[data-sidebar='menu']:not([role])");
    for (var m = 0; m < menus.length; m++) {
      if (!menus[m].querySelector(":scope > li")) menus[m].setAttribute("role", "none");
    }
    for (var i = 0; i < BUTTON_NAMES.length; i++) name(BUTTON_NAMES[i][0], BUTTON_NAMES[i][1]);
    // The welcome screen shows the product's icon (the chat profile's) without alt text.
    var images = document.querySelectorAll("#welcome-screen img:not([alt])");
    for (var j = 0; j < images.length; j++) images[j].setAttribute("alt", "Confidante");
  }

  function scan() {
    label();
    consoleLink();
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

  function revealConsoleLink() {
    if (!window.fetch) return;
    window
      .fetch("/user", { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (user) {
        if (user && user.metadata && user.metadata.role === "admin") {
          document.documentElement.setAttribute("data-cf-admin", "");
        }
      })
      .catch(function () {});
  }

  var askedRole = false;
  function consoleLink() {
    var link = document.querySelector('#header a[href="/admin/dashboard"]');
    if (link && !askedRole) {
      askedRole = true;
      revealConsoleLink();
    } else if (!link && askedRole) {
      askedRole = false; // signed out: the next account is asked afresh
      document.documentElement.removeAttribute("data-cf-admin");
    }
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
