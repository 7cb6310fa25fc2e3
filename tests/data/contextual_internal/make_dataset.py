"""Writes `dev.jsonl` and `heldback.jsonl`: messages that are internal for a name, e-mail, phone or
employer, half of them implying regulated content without a detectable value (they must go
regulated), half ordinary or near-miss work messages (they must stay internal).

Hand-written for issue 12 (r7, session 5); not copied from any held-out set. Every third row of
each side goes to `heldback` (fixed by position, written before any figure was seen); nothing is
tuned on it. Run: `python tests/data/contextual_internal/make_dataset.py` (deterministic).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (carrier, category, text): regulated content implied, with the internal value that carries it.
IMPLIED = [
    (
        "name",
        "authentication",
        "Ask Dana: her password is the one from last summer with the year and an exclamation mark.",
    ),
    ("name", "health", "Tell Marco my thyroid thing flared up again."),
    ("name", "authentication", "Priya said the safe code is her mum's birthday backwards."),
    (
        "name",
        "authentication",
        "Can you let Jonas know my login is still the dog's name plus the year we moved?",
    ),
    ("name", "health", "Remind Fatima that the pills for my blood pressure ran out on Monday."),
    (
        "name",
        "financial",
        "Ingrid's card is the blue one and the three numbers on the back start with a seven.",
    ),
    ("name", "authentication", "Tell Kwame the account answer is the street I grew up on."),
    ("name", "authentication", "Sven knows my bank PIN, it's the same four digits as the garage door."),
    ("name", "health", "Let Aisha know the sugar condition I've had since childhood got worse this winter."),
    (
        "name",
        "financial",
        "Mateo asked about my salary; tell him it's the same as last year plus the small raise.",
    ),
    ("name", "health", "Can you tell Olga that the therapy sessions for my anxiety are on Thursdays now?"),
    ("name", "identification", "Write to Lukas that my passport number is on the scan I sent him last week."),
    (
        "name",
        "authentication",
        "Tell Chiara the password for the shared drive is her surname with the year and a hash sign.",
    ),
    ("name", "financial", "Ask Tomasz to use my usual card, the one whose number ends like my birthday."),
    ("name", "health", "Noor needs to know the medication I take for the thing with my kidneys has changed."),
    ("name", "financial", "Tell Rafael my credit score dropped after the missed loan payments."),
    (
        "name",
        "authentication",
        "Let Emeka know the two-factor code goes to my old phone, so he should read it to me.",
    ),
    ("name", "health", "Please tell Greta my depression came back after the move."),
    ("name", "identification", "Björn, my social security number is the one on the form in the top drawer."),
    ("name", "health", "Ask Leila whether the lab results about my liver came back."),
    (
        "name",
        "authentication",
        "Hannah's alarm code for the office is the same as mine, the year we both joined.",
    ),
    (
        "name",
        "health",
        "Please tell Dmitri I can't come in, my migraines are back and the new tablets don't help.",
    ),
    (
        "name",
        "financial",
        "Ask Sofia to check my bank account; the overdraft from the car loan is still there.",
    ),
    ("name", "authentication", "Tell Yusuf my security answer is the name of my first school."),
    (
        "email",
        "authentication",
        "Email anna.berg@example.org that the password is our wedding date with a capital letter in front.",
    ),
    ("email", "health", "Send to j.smith@acme.com: my insulin dose went up again after the check-up."),
    (
        "email",
        "financial",
        "Forward to hr@mycompany.com that my salary still hasn't been paid after the pay cut.",
    ),
    (
        "email",
        "authentication",
        "Write to m.rossi@gmail.com that the PIN for the shared card is the year his father was born.",
    ),
    ("email", "health", "Reply to kim.lee@outlook.com: the biopsy showed the lump was the kind we feared."),
    (
        "email",
        "identification",
        "Let tom.baker@example.net know my national ID is printed on the card in the wallet photo.",
    ),
    ("phone", "authentication", "Text +44 7700 900123 that the door code is the same as my bank PIN."),
    ("phone", "health", "Call 415-555-0134 and tell them my seizure medication ran out."),
    (
        "phone",
        "authentication",
        "Message 07700 900456: the password to the laptop is my daughter's name and her birth year.",
    ),
    ("phone", "financial", "Ring +1 212 555 0199 and say my mortgage payments are three months behind."),
    ("employer", "health", "I work at Siemens and my boss doesn't know about my bipolar disorder."),
    (
        "employer",
        "authentication",
        "I work at Deloitte and they still use my old password, the cat's name and 123.",
    ),
    ("employer", "health", "I work for Unilever and my manager keeps asking about the chemo sessions."),
    (
        "employer",
        "financial",
        "I started working at Google last month and my debt is larger than my yearly pay.",
    ),
    ("employer", "authentication", "I work at Nestlé; my login is my initials followed by my birth year."),
    (
        "employer",
        "financial",
        "She works for Accenture and payroll still has my bank details from the account I closed.",
    ),
]

# (carrier, form, category, text): internal for the same kind of value, nothing regulated implied.
ORDINARY = [
    ("name", "ordinary", "none", "Ask Dana to send the slides."),
    ("name", "ordinary", "none", "Marco's flight lands at 6."),
    ("name", "ordinary", "none", "Tell Priya the meeting moved to Thursday at ten."),
    ("name", "ordinary", "none", "Can you remind Jonas to book the meeting room for the workshop?"),
    ("name", "ordinary", "none", "Fatima wants the quarterly report by Friday."),
    ("name", "ordinary", "none", "Ingrid is presenting the roadmap tomorrow morning."),
    ("name", "ordinary", "none", "Let Kwame know the printer on the third floor is fixed."),
    ("name", "ordinary", "none", "Sven will cover the support queue while I'm out."),
    ("name", "ordinary", "none", "Aisha asked whether the design review is still on."),
    ("name", "ordinary", "none", "Mateo sent the budget spreadsheet; can you summarise it?"),
    ("name", "ordinary", "none", "Olga's team is hiring two backend engineers."),
    ("name", "ordinary", "none", "Write to Lukas that the contract draft is ready for review."),
    ("name", "ordinary", "none", "Chiara prefers the blue version of the logo."),
    ("name", "ordinary", "none", "Ask Tomasz if he can join the call at 3."),
    ("name", "ordinary", "none", "Noor is back from holiday on Monday."),
    ("name", "ordinary", "none", "Rafael needs access to the staging server."),
    ("name", "ordinary", "none", "Emeka's talk about the new API was great, draft a thank-you note."),
    ("name", "ordinary", "none", "Greta is organising the team lunch next week."),
    ("name", "near_miss", "authentication", "Björn asked how to reset a password in the admin console."),
    ("name", "near_miss", "financial", "Leila wants to know the PIN length requirement for the new cards."),
    ("name", "near_miss", "authentication", "Ask Hannah what the password policy says about minimum length."),
    ("name", "near_miss", "health", "Dmitri asked how enrolment in the company health plan works."),
    ("name", "near_miss", "financial", "Tell Sofia the documentation's sample card number is a fake one."),
    (
        "name",
        "near_miss",
        "authentication",
        "Yusuf wants to know how two-factor authentication is set up for new staff.",
    ),
    ("email", "ordinary", "none", "Email anna.berg@example.org the agenda for tomorrow's meeting."),
    ("email", "ordinary", "none", "Send j.smith@acme.com a reminder about the invoice template."),
    ("email", "ordinary", "none", "Forward the onboarding checklist to hr@mycompany.com."),
    ("email", "ordinary", "none", "Reply to m.rossi@gmail.com that the venue is confirmed."),
    ("email", "ordinary", "none", "Ask kim.lee@outlook.com for the updated slide deck."),
    ("email", "ordinary", "none", "Let tom.baker@example.net know the release is postponed to next sprint."),
    ("phone", "ordinary", "none", "Text +44 7700 900123 that I'm running ten minutes late."),
    ("phone", "ordinary", "none", "Call 415-555-0134 to confirm the delivery slot."),
    ("phone", "ordinary", "none", "Message 07700 900456 that the keys are at reception."),
    ("phone", "ordinary", "none", "Ring +1 212 555 0199 to reschedule the interview."),
    ("employer", "ordinary", "none", "I work at Siemens and we're migrating to a new ticketing system."),
    (
        "employer",
        "ordinary",
        "none",
        "I work at Deloitte and we use the quarterly planning template you made.",
    ),
    (
        "employer",
        "ordinary",
        "none",
        "I work for Unilever and my manager wants a summary of the market report.",
    ),
    (
        "employer",
        "ordinary",
        "none",
        "I started working at Google last month and I'm still learning the build tools.",
    ),
    ("employer", "ordinary", "none", "I work at Nestlé; our team runs a stand-up every morning at nine."),
    ("employer", "ordinary", "none", "She works for Accenture and asked for the new holiday calendar."),
]


def rows() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(dev, heldback): every third row of each side is held back."""
    positives = [
        {"text": t, "regulated": True, "category": c, "form": "implied", "carrier": k} for k, c, t in IMPLIED
    ]
    negatives = [
        {"text": t, "regulated": False, "category": c, "form": f, "carrier": k} for k, f, c, t in ORDINARY
    ]
    dev: list[dict[str, object]] = []
    held: list[dict[str, object]] = []
    for side in (positives, negatives):
        for index, row in enumerate(side):
            (held if index % 3 == 2 else dev).append(row)
    return dev, held


def main() -> None:
    for name, split in zip(("dev", "heldback"), rows(), strict=True):
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for row in split:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
