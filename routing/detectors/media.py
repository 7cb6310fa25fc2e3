"""Media and ancillary text: chat logs, e-mail signatures and error logs that carry personal data.

Pasted logs name people and accounts in fixed places: the speaker of a chat line
("[10:32] Ana Lopez: see you"), the name under a signature delimiter ("--\\nAna Lopez"), the user
of a log line ("user=jdoe", "for user 'jdoe'", "uid=1001(jdoe)"). Values inside those lines (cards,
phones, e-mails) are found by the other families; this one adds the names and user names that only
the layout gives away. Mood notes and incident narratives are topics in the policy, not rules here.
"""

from __future__ import annotations

import re

from routing.detectors.base import IGNORE_CASE, IdentifierRule, not_a_common_word

_PERSON_NAME = r"[A-Z][a-zà-ÿ'-]+(?:[ \t]+[A-Z][a-zà-ÿ'.-]+){0,2}"
_SERVICE_USERS = frozenset(
    {"root", "admin", "administrator", "system", "nobody", "www-data", "postgres", "mysql", "daemon", "guest",
     "anonymous", "null", "none", "unknown", "default", "user", "username", "test"}
)  # fmt: skip


def _personal_user(value: str) -> bool:
    return value.casefold() not in _SERVICE_USERS and not_a_common_word(value) and not value.isdigit()


RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "chat_speaker",
        "PERSON",
        # A line that starts with a time stamp and a speaker: "[10:32] Ana Lopez:", "10:32 - Ana:".
        re.compile(
            rf"(?m)^\s*[\[(]?(?:\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}},?\s*)?\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*"
            rf"(?:[AaPp][Mm])?[\])]?\s*[-–]?\s*(?P<value>{_PERSON_NAME})\s*:"
        ),
        0.8,
    ),
    IdentifierRule(
        "signature_name",
        "PERSON",
        # The line under a signature delimiter or a sign-off: "--\nAna Lopez", "Best regards,\nAna Lopez".
        re.compile(
            rf"(?m)(?:^--\s*$|^(?i:best|kind|warm)?\s*(?i:regards|wishes|thanks|cheers|sincerely),?\s*$)\n"
            rf"\s*(?P<value>{_PERSON_NAME})\s*$"
        ),
        0.8,
    ),
    IdentifierRule(
        "log_user",
        "USERNAME",
        re.compile(
            r"(?:\b(?:user|username|user_name|login|account|uid=\d+)\s*(?:=|:|\()\s*[\"']?"
            r"|\bfor\s+user\s+[\"']?|\buser\s+[\"'])(?P<value>[A-Za-z][\w.@-]{1,40})",
            IGNORE_CASE,
        ),
        0.8,
        validate=_personal_user,
    ),
)
