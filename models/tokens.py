"""The one tokenizer-free token estimate, for whatever has no tokenizer of its own.

Hosted models (when an endpoint reports no usage, and to fit a request in its window), the
scripted fakes and the knowledge base's chunker all count with it, so "how many tokens" means
the same thing everywhere a real tokenizer is not at hand. It must never be used where a model
offers its own count (`ChatModel.count_tokens` of the local model).
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

_WORDISH = re.compile(r"\w+|[^\w\s]")


def approximate_tokens(text: str) -> int:
    """WordPiece-like count: words and punctuation, long words count extra.

    About one per word in English prose; code, numbers and punctuation-dense text count higher
    than a four-characters-a-token rule would, which is the safe side for fitting a window.
    """
    return sum(1 + len(piece) // 8 for piece in _WORDISH.findall(text))
