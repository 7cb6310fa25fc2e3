"""Financial account data through the gate: cards with context, CVV, expiry, wallets, loans, income."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        # The checksum of this number fails: next to "card", "exp" and "CVV" it is a card all the same.
        ("Charge card 4539 1488 0343 6467, exp 04/28, CVV 512", "CREDIT_CARD"),
        ("Charge card 4539 1488 0343 6467, exp 04/28, CVV 512", "CARD_CVV"),
        ("Charge card 4539 1488 0343 6467, exp 04/28, CVV 512", "CARD_EXPIRY"),
        ("crd nmbr 5105.1051.0510.5107 please", "CREDIT_CARD"),
        ("my visa is 4 9 1 6 - 3 8 2 9 - 1 1 2 2 - 8 8 9 0", "CREDIT_CARD"),
        ("the cvc on the back says 8834", "CARD_CVV"),
        ("the c.v.v is 5 1 2", "CARD_CVV"),
        (
            "card: four five three nine, one four eight eight, zero three four three, six four six seven",
            "CREDIT_CARD",
        ),
        ("expires 11/2027", "CARD_EXPIRY"),
        ("send the refund to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "CRYPTO_WALLET"),
        ("my ETH wallet 0x52908400098527886E0F7030069857D2E4169EE7", "CRYPTO_WALLET"),
        ("my loan number is LN-2023-884120", "LOAN_NUMBER"),
        ("mortgage acct 7781 2290 4431", "LOAN_NUMBER"),
        ("insurance policy number HX-44817203", "INSURANCE_POLICY_NUMBER"),
        ("I earn $85,000 a year before tax", "INCOME"),
        ("my wife makes about 4,200 euros a month", "INCOME"),
        ("His take home pay is £2,950", "INCOME"),
        ("my credit score is 712", "CREDIT_SCORE"),
        ("sort code 20-45-77, account 31926819", "BANK_ACCOUNT"),
        ("I owe $12,000 on my credit card", "FINANCIAL_AMOUNT"),
        ("my overdraft is about £900", "FINANCIAL_AMOUNT"),
        ("we're $4k in debt", "FINANCIAL_AMOUNT"),
    ],
)
def test_financial_data_is_regulated(gate: SensitivityGate, text: str, entity: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.REGULATED
    assert entity in entities


def test_transaction_ids_are_pseudonymized(gate: SensitivityGate) -> None:
    tier, entities = found(gate, "the transaction ID was TXN88213409 on Monday")
    assert tier is Tier.INTERNAL and "TRANSACTION_ID" in entities


@pytest.mark.parametrize(
    "text",
    [
        "What is a CVV and where is it on the card?",
        "How long does a card take to arrive after 10 days?",
        "The average salary is $50k in this field.",
        "What is a good credit score?",
        "Is a credit score of 700 good?",
        "Can I pay with a debit card online?",
        "How do bitcoin wallets work?",
        "What are the key factors to consider when investing $1,000?",
        "What does the expiry date on a card mean?",
        "What is the average debt of $30,000 for students?",
        "How much do I owe if I cancel early, is it $50?",
        "Our savings plan offers 4.5% on balances over $10,000",
    ],
)
def test_general_finance_questions_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC
