"""Small, deterministic readings of what a message asks for (no model involved).

`is_small_talk` keeps greetings and thanks out of document retrieval, so "hello" is answered as a
chat instead of "not found in your documents". `wants_a_person` spots a request for a human, which
opens an escalation. Both err on the side of the ordinary path.
"""

from __future__ import annotations

import re

_SMALL_TALK = re.compile(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you( very much)?|cheers|"
    r"bye|goodbye|see you|ok(ay)?|great|cool|who are you|what can you do|how are you|"
    r"what (can|do) you (help( me)? with|do))\b[\s\w,!?.']{0,60}$",
    re.IGNORECASE,
)
_SAY = re.compile(r"^\s*(please\s+)?(say|repeat|write|draft|translate|summari[sz]e this)\b", re.IGNORECASE)
_PERSON = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|some)?\s*(real\s+)?(person|human|agent|someone|somebody|"
    r"representative|colleague)\b|\b(human|live)\s+(agent|support)\b|\bescalate\b",
    re.IGNORECASE,
)


def is_small_talk(text: str) -> bool:
    words = text.split()
    return len(words) <= 12 and bool(_SMALL_TALK.match(text) or (len(words) <= 8 and _SAY.match(text)))


def wants_a_person(text: str) -> bool:
    return bool(_PERSON.search(text))
