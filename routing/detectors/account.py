"""Account and profile: customer, member and loyalty IDs, usernames, social and gaming handles, and
employer and work history about the writer or someone they speak of.

A handle counts when the text says where it lives ("@ana.r on Instagram", "my Steam name is
xXSniperXx"); a decorator in pasted code ("@dataclass") or "@" in an e-mail address does not.
Date of birth is in the core rules (`routing.recognizers`).
"""

from __future__ import annotations

import re

from routing.detectors.base import IGNORE_CASE, IdentifierRule, context_id_rules, not_a_common_word
from routing.detectors.fuzzy import fuzzy

_CUSTOMER_WORDS = fuzzy(
    "customer number",
    "customer id",
    "customer no",
    "customer ref",
    "customer reference",
    "client id",
    "client number",
    "account id",
    "account ref",
    "account number",
    "membership number",
    "membership id",
    "member number",
    "loyalty number",
    "loyalty id",
    "loyalty card",
    "rewards number",
    "rewards id",
    "frequent flyer",
    "frequent flier",
    "user id",
    "userid",
    "profile id",
    "subscriber number",
    "contract number",
    "reference number",
    "ref no",
    "case number",
    "ticket number",
    "order number",
)
_SOCIAL_WORDS = fuzzy(
    "venmo",
    "cashapp",
    "cash app",
    "paypal",
    "zelle",
    "revolut",
    "instagram",
    "insta",
    "ig",
    "twitter",
    "tiktok",
    "snapchat",
    "snap",
    "facebook",
    "threads",
    "bluesky",
    "mastodon",
    "linkedin",
    "youtube",
    "twitch",
    "reddit",
    "discord",
    "telegram",
    "signal",
    "whatsapp",
    "handle",
    "follow me",
    "dm me",
    "tumblr",
    "pinterest",
    "kick",
)
_GAMING_WORDS = fuzzy(
    "steam",
    "psn",
    "playstation",
    "xbox",
    "gamertag",
    "gamer tag",
    "battle tag",
    "battletag",
    "battle net",
    "riot id",
    "riot",
    "roblox",
    "minecraft",
    "epic games",
    "fortnite",
    "nintendo",
    "friend code",
    "league of legends",
    "valorant",
    "ea id",
    "origin id",
    "ubisoft",
)
_NAMED = r"(?:name|handle|tag|id|username|user\s?name|account|profile|user|ign|gamertag|alias|nick|nickname)"
_HANDLE = r"@?(?P<value>[A-Za-z0-9_.\-]{3,30})"


def _handle_like(value: str) -> bool:
    return not_a_common_word(value) and not value.endswith(".")


RULES: tuple[IdentifierRule, ...] = (
    *context_id_rules("customer_id", "CUSTOMER_ID", _CUSTOMER_WORDS, score=0.85, min_digits=3),
    IdentifierRule(
        "customer_prefixed",
        "CUSTOMER_ID",
        re.compile(
            r"(?<![\w-])(?:CUST|CUS|CID|ACCT|ACC|MBR|MEM|LOY|USR|UID|CLI|CRM)[-_#]?\d{4,}(?![\w-])",
            IGNORE_CASE,
        ),
        0.75,
    ),
    IdentifierRule(
        "at_handle",
        "SOCIAL_HANDLE",
        re.compile(r"(?<![\w@.])@(?P<value>[A-Za-z0-9_.]{2,30}[A-Za-z0-9_])(?![\w@])"),
        0.8,
        context=_SOCIAL_WORDS,
        before=48,
        after=48,
    ),
    IdentifierRule(
        "social_named",
        "SOCIAL_HANDLE",
        re.compile(rf"\b{_NAMED}\s*(?:is|was|:|=)\s*{_HANDLE}", IGNORE_CASE),
        0.8,
        context=_SOCIAL_WORDS,
        before=40,
        after=0,
        validate=_handle_like,
    ),
    IdentifierRule(
        "gaming_named",
        "GAMING_HANDLE",
        re.compile(rf"\b{_NAMED}\s*(?:is|was|:|=)\s*{_HANDLE}", IGNORE_CASE),
        0.8,
        context=_GAMING_WORDS,
        before=40,
        after=0,
        validate=_handle_like,
    ),
    IdentifierRule(
        "gaming_platform_is",
        "GAMING_HANDLE",
        re.compile(
            r"\b(?:steam|psn|xbox|gamertag|battletag|riot|roblox|epic|discord)\s+(?:is|:)\s*" + _HANDLE,
            IGNORE_CASE,
        ),
        0.75,
        validate=lambda v: _handle_like(v) and any(not c.islower() for c in v),
    ),
    IdentifierRule(
        "social_platform_is",
        "SOCIAL_HANDLE",
        re.compile(
            r"\b(?:instagram|insta|ig|twitter|tiktok|snapchat|snap|threads|bluesky|linkedin|youtube|twitch|reddit"
            r"|telegram|mastodon)\s*(?:is|:|=)\s*(?P<value>@?[A-Za-z0-9_.\-]{3,30})",
            IGNORE_CASE,
        ),
        0.75,
        # "my instagram is private" describes the account; "tom_h_92" and "@tom" name it.
        validate=lambda v: _handle_like(v) and (v.startswith("@") or any(not c.isalpha() for c in v)),
    ),
    IdentifierRule(
        "employer",
        "EMPLOYER",
        re.compile(
            r"(?i:\b(?:i|i've|i'd|i'm|he|she|they|we|my\s+\w+)\s+(?:have\s+|has\s+|had\s+)?(?:also\s+|currently\s+|still\s+|used\s+to\s+)?"
            r"(?:work(?:s|ed|ing)?|am\s+employed|was\s+employed|been\s+employed|am\s+working|intern(?:ed)?)\s+"
            r"(?:at|for|with))\s+(?P<value>[A-Z][\w&'.-]*(?:\s+(?:[A-Z][\w&'.-]*|of|&|and)){0,4}(?<![\s.]))",
        ),
        0.8,
    ),
    IdentifierRule(
        "employer_role",
        "EMPLOYER",
        # "I'm a nurse at St. Mary's Hospital", "she is the head chef at Dishoom".
        re.compile(
            r"(?i:\b(?:i'm|i\s+am|i\s+was|he's|she's|he\s+is|she\s+is|he\s+was|she\s+was|my\s+\w+\s+is)"
            r"\s+(?:an?|the)\s+[\w-]+(?:\s+[\w-]+)?\s+(?:at|for|with))\s+"
            r"(?P<value>[A-Z][\w&'.-]*(?:\s+(?:[A-Z][\w&'.-]*|of|&|and)){0,4}(?<![\s.]))"
        ),
        0.75,
    ),
    IdentifierRule(
        "employer_named",
        "EMPLOYER",
        re.compile(
            r"\b(?:my|his|her|their)\s+(?:employer|company|workplace|former\s+employer|previous\s+employer|"
            r"current\s+employer|firm)\s+(?:is|was|:)\s*(?P<value>[A-Z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*){0,4})",
            IGNORE_CASE,
        ),
        0.8,
        validate=not_a_common_word,
    ),
)
