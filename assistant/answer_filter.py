"""Everything between a model's raw stream and what the user sees, in order:

1. placeholders restored (pseudonymized hosted calls);
2. output hygiene: markdown/HTML images, external links, smuggled data neutralized *before*
   anything renders, holding back a construct until it is complete;
3. the system-prompt leak guard: a verbatim run of the system prompt is redacted.

The streamed text is safe at every moment; `final_text()` re-checks the whole answer at once
(it also catches a URL assembled from pieces) and is what gets stored and shown at the end.
"""

from __future__ import annotations

from assistant.privacy import Restorer
from assistant.security.leak_guard import PromptLeakGuard
from assistant.security.output_hygiene import OutputSanitizer


class AnswerFilter:
    def __init__(self, restorer: Restorer, sanitizer: OutputSanitizer, leak_guard: PromptLeakGuard) -> None:
        self._restorer = restorer
        self._hygiene = sanitizer.stream()
        self._leak_guard = leak_guard

    def feed(self, delta: str) -> str:
        return self._leak_guard.feed(self._hygiene.feed(self._restorer.feed(delta)))

    def flush(self) -> str:
        tail = self._hygiene.feed(self._restorer.flush()) + self._hygiene.flush()
        return self._leak_guard.feed(tail) + self._leak_guard.flush()

    def final_text(self) -> str:
        """The whole answer, sanitized and leak-checked at once (call after `flush`)."""
        return self._leak_guard.check(self._hygiene.final().text).text

    @property
    def removed(self) -> int:
        return len(self._hygiene.removed)
