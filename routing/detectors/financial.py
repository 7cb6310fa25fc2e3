"""Financial account data: card numbers next to card words (checksum or not), CVV, expiry, sort codes,
crypto wallets, loan and insurance policy numbers, transaction ids, income and salary stated about a
person, and credit scores.

A card-shaped number beside "card", "exp" or "CVV" is a card even when its Luhn check fails: a
typo in a real card number is still a real card number. Amounts and scores count only when they
are about someone ("my salary is $85,000"), not in a general question ("the average salary").
"""

from __future__ import annotations

import re

from routing.detectors.base import (
    IGNORE_CASE,
    IdentifierRule,
    all_of,
    context_id_rules,
    digit_count,
    not_one_digit,
)
from routing.detectors.fuzzy import PERSON_CUE, AllContext, fuzzy

_CARD_WORDS = fuzzy(
    "card",
    "credit card",
    "debit card",
    "visa",
    "mastercard",
    "amex",
    "american express",
    "discover",
    "cc",
    "cvv",
    "cvc",
    "exp",
    "expiry",
    "expires",
    "expiration",
    "charge",
    "cardholder",
    "card number",
)
_CVV_WORDS = fuzzy(
    "cvv", "cvc", "cvv2", "cvc2", "csc", "cid", "card security code", "security code", "card code"
)
_EXPIRY_WORDS = fuzzy(
    "exp", "expiry", "expires", "expiration", "valid thru", "valid through", "good thru", "card"
)
_CRYPTO_WORDS = fuzzy("bitcoin", "btc", "wallet", "ethereum", "eth", "crypto", "address", "usdt", "send")
_INCOME_WORDS = fuzzy(
    "salary",
    "income",
    "earn",
    "earns",
    "earning",
    "earnings",
    "make",
    "makes",
    "paid",
    "pay",
    "wage",
    "wages",
    "take home",
    "compensation",
    "gross",
    "net pay",
    "pension",
    "payslip",
    "bonus",
    "revenue",
)
_DEBT_NOUNS = r"balance|debts?|overdraft|savings|arrears|mortgage|loan|net\s+worth|credit\s+card\s+bill"
_SCORE_WORDS = fuzzy("credit score", "fico", "fico score", "credit rating", "vantagescore", "vantage score")

_AMOUNT = (
    r"(?P<value>(?:[$€£¥₹]|usd|eur|gbp)\s?\d[\d,.]*\s?(?:k|m|million|thousand|grand)?(?![\w])"
    r"|(?<![\d,.])\d[\d,.]*\s?(?:k|usd|eur|gbp|dollars|euros|pounds|bucks|grand)(?![\w]))"
)

RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "card_with_context",
        "CREDIT_CARD",
        re.compile(r"(?<![\w-])(?P<value>\d(?:\s?[ .\-/_]?\s?\d){12,18})(?![\w-]|\.\d)"),
        0.9,
        context=_CARD_WORDS,
        before=40,
        after=40,
        validate=all_of(digit_count(13, 19), not_one_digit),
    ),
    IdentifierRule(
        "card_cvv",
        "CARD_CVV",
        re.compile(r"(?<![\w./-])(?P<value>\d{3,4})(?![\w/-]|[.,]\d)"),
        0.85,
        context=_CVV_WORDS,
        before=32,
        after=0,
    ),
    IdentifierRule(
        "card_expiry",
        "CARD_EXPIRY",
        re.compile(r"(?<![\w/.-])(?P<value>(?:0?[1-9]|1[0-2])\s?[/-]\s?(?:\d{2}|20\d{2}))(?![\w/.-])"),
        0.85,
        context=_EXPIRY_WORDS,
        before=24,
        after=0,
    ),
    IdentifierRule(
        "sort_code",
        "BANK_ACCOUNT",
        re.compile(r"(?<![\w-])\d{2}-\d{2}-\d{2}(?![\w-])"),
        0.85,
        context=fuzzy("sort code", "sortcode", "bank", "account"),
        before=32,
        after=0,
    ),
    IdentifierRule(
        "btc_address",
        "CRYPTO_WALLET",
        re.compile(r"(?<![\w])(?:bc1[ac-hj-np-z02-9]{25,59}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})(?![\w])"),
        0.6,
        context=_CRYPTO_WORDS,
        context_score=0.95,
        require_context=False,
        validate=lambda v: (
            v.startswith("bc1") or (any(c.isdigit() for c in v[1:]) and v.lower() != v != v.upper())
        ),
    ),
    IdentifierRule("eth_address", "CRYPTO_WALLET", re.compile(r"(?<![\w])0x[a-fA-F0-9]{40}(?![\w])"), 0.9),
    IdentifierRule(
        "income_amount",
        "INCOME",
        re.compile(_AMOUNT, IGNORE_CASE),
        0.85,
        context=AllContext(_INCOME_WORDS, PERSON_CUE),
        before=48,
        after=0,
    ),
    IdentifierRule(
        "debt_amount",
        "FINANCIAL_AMOUNT",
        # Someone's own debt or balance, stated: "I owe $12,000", "my overdraft is about £900";
        # not a question about fees ("how much do I owe if I cancel?").
        re.compile(
            rf"(?:\b(?:i|we|he|she|they)\s+(?:still\s+|now\s+)?owes?\s+(?:\w+\s+){{0,3}}?"
            rf"|\b(?:my|our|his|her|their)\s+(?:\w+\s+){{0,2}}?(?:{_DEBT_NOUNS})\s*(?:is|was|of|stands\s+at|:)\s+"
            rf"(?:(?:now|about|around|roughly|over|almost|nearly)\s+)?){_AMOUNT}",
            IGNORE_CASE,
        ),
        0.85,
    ),
    IdentifierRule(
        "debt_amount_after",
        "FINANCIAL_AMOUNT",
        # "$4k in debt", "£900 overdrawn", "$12,000 on my credit card".
        re.compile(
            rf"{_AMOUNT}\s+(?:in\s+debt|in\s+arrears|overdrawn|of\s+(?:my\s+)?debt|on\s+my\s+(?:credit\s+)?card)",
            IGNORE_CASE,
        ),
        0.85,
    ),
    IdentifierRule(
        "credit_score",
        "CREDIT_SCORE",
        re.compile(r"(?<![\w.,])(?P<value>[3-8]\d{2})(?![\w]|[.,]\d)"),
        0.85,
        context=AllContext(_SCORE_WORDS, PERSON_CUE),
        before=40,
        after=0,
    ),
    *context_id_rules(
        "loan_number",
        "LOAN_NUMBER",
        fuzzy(
            "loan number",
            "loan account",
            "loan id",
            "loan no",
            "loan reference",
            "mortgage number",
            "mortgage account",
            "mortgage reference",
            "loan",
        ),
    ),
    *context_id_rules(
        "insurance_policy",
        "INSURANCE_POLICY_NUMBER",
        fuzzy(
            "policy number",
            "policy no",
            "insurance policy",
            "policy id",
            "claim number",
            "claim no",
            "claim id",
            "insurance number",
            "insurance id",
            "policy ref",
        ),
    ),
    *context_id_rules(
        "transaction_id",
        "TRANSACTION_ID",
        fuzzy(
            "transaction id",
            "transaction number",
            "transaction ref",
            "transaction reference",
            "txn",
            "txid",
            "tx id",
            "payment reference",
            "payment id",
            "payment ref",
            "invoice number",
            "receipt number",
            "order number",
            "order id",
            "my order",
            "order no",
            "order ref",
        ),
        min_digits=3,
    ),
)
