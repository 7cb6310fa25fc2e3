"""Generate the authored sensitivity dataset (seeded, deterministic): `python make_dataset.py`.

Messages an employee or customer would type, labelled `{text, sensitive, category, form, template}`.
Positives come from hand-written templates per DLP category in three forms (direct, obfuscated,
implied); negatives are near-miss questions per category and ordinary work messages. The split is
by template: every message from one template lands in the same split (train / dev / heldback), so
the held-back figure measures templates the classifier never saw.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20261129
FILLS_POSITIVE = 4
FILLS_NEGATIVE = 6

Slot = Callable[[random.Random], str]


def _digits(n: int) -> Slot:
    return lambda r: "".join(r.choice("0123456789") for _ in range(n))


def _pick(*values: str) -> Slot:
    return lambda r: r.choice(values)


def _card(r: random.Random) -> str:
    head = r.choice(["4539", "4716", "5425", "5105", "4024"])
    return " ".join([head] + ["".join(r.choice("0123456789") for _ in range(4)) for _ in range(3)])


def _password(r: random.Random) -> str:
    word = r.choice(["Autumn", "Sunshine", "Bluebird", "Maple", "Dragon", "Harbor", "Tiger", "Velvet"])
    return f"{word}{r.randint(1990, 2025)}{r.choice('!#$?*')}"


def _alnum(prefix: str, n: int) -> Slot:
    chars = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return lambda r: prefix + "".join(r.choice(chars) for _ in range(n))


SLOTS: dict[str, Slot] = {
    "first": _pick("Priya", "Tomasz", "Aiko", "Oluwaseun", "Margarethe", "Diego", "Saanvi", "Henrik"),
    "last": _pick("Okonkwo", "Nakamura", "Kowalczyk", "Fernandes", "Lindqvist", "Haddad", "Brennan"),
    "street": _pick("14 Larch Road", "221 Elm Street", "7 Rue des Lilas", "88 Kingsway", "3 Birch Lane"),
    "city": _pick("Leeds", "Porto", "Gdansk", "Dayton", "Utrecht", "Brisbane", "Tampere"),
    "phone": lambda r: f"+44 7{r.randint(100, 999)} {r.randint(100000, 999999)}",
    "email": lambda r: (
        r.choice(["p.okafor", "tkowal", "aiko.n", "dfern"]) + "@" + r.choice(["gmail.com", "outlook.com"])
    ),
    "acct": _alnum("CUST", 6),
    "member": _digits(9),
    "dob": lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1950, 2004)}",
    "handle": _pick("@nightowl_88", "@quietfox", "@tomek.k", "@saanvi.codes"),
    "password": _password,
    "pin": _digits(4),
    "otp": _digits(6),
    "apikey": _alnum("sk_live_", 24),
    "serial": _alnum("SN-", 7),
    "imei": _digits(15),
    "mac": lambda r: ":".join(f"{r.randint(0, 255):02X}" for _ in range(6)),
    "card": _card,
    "cvv": _digits(3),
    "exp": lambda r: f"{r.randint(1, 12):02d}/{r.randint(26, 31)}",
    "iban": lambda r: (
        "GB"
        + "".join(r.choice("0123456789") for _ in range(2))
        + " NWBK "
        + " ".join("".join(r.choice("0123456789") for _ in range(4)) for _ in range(3))
    ),
    "salary": lambda r: f"${r.randint(48, 190)},{r.randint(0, 9)}00",
    "score": lambda r: str(r.randint(540, 820)),
    "condition": _pick("type 2 diabetes", "epilepsy", "bipolar disorder", "asthma", "Crohn's disease", "HIV"),
    "drug": _pick("metformin", "sertraline", "lamotrigine", "levothyroxine", "lithium", "adalimumab"),
    "ssn": lambda r: f"{r.randint(101, 665)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}",
    "natid": _digits(9),
    "passport": lambda r: r.choice("ABCDEFGHKLMNPRSTXYZ") + "".join(r.choice("0123456789") for _ in range(8)),
    "licence": _alnum("D", 8),
    "lat": lambda r: f"{r.uniform(-60, 60):.4f}",
    "lon": lambda r: f"{r.uniform(-120, 120):.4f}",
    "ip": lambda r: f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "booking": _alnum("", 6),
    "flight": lambda r: r.choice(["BA", "LH", "KL", "UA"]) + str(r.randint(100, 2999)),
    "relative": _pick("my husband", "my wife", "my son", "my daughter", "my mother", "my brother"),
}

# Direct: a value stated. Each string is one template; `{slot}` is filled from SLOTS.
DIRECT: dict[str, list[str]] = {
    "contact": [
        "my name is {first} {last}, please update the ticket",
        "Ship it to {street}, {city}, attention {first} {last}",
        "you can reach me on {phone} after six",
        "my personal email is {email}, use that instead of the work one",
        "Emergency contact: {first} {last}, {phone}",
        "my maiden name was {last} before I married",
        "I live at {street} in {city}",
        "Dear {first}, thanks for the update on my claim",
    ],
    "account": [
        "my customer number is {acct}, can you check the order?",
        "loyalty member ID {member}, points are missing",
        "account {acct} was charged twice",
        "my date of birth is {dob} if you need to verify",
        "I'm {handle} on twitter, DM me there",
        "membership number {member} - please renew it",
        "log in as {acct} and look at my profile",
        "my DOB: {dob}",
    ],
    "authentication": [
        "the login password is {password}",
        "my PIN is {pin}, why does the machine reject it?",
        "the 2FA code I got is {otp} but it expired",
        "here's the API key for the staging box: {apikey}",
        "wifi password is {password} if you need it",
        "my passphrase is {password}, can you reset everything else?",
        "use {password} to get into the shared account",
        "the one-time code was {otp}",
    ],
    "device": [
        "device serial {serial} keeps rebooting",
        "my phone's IMEI is {imei}, it was stolen",
        "MAC address of my laptop is {mac}",
        "serial number {serial}, warranty claim please",
        "the router's MAC is {mac} and it drops every hour",
        "IMEI {imei} needs unblocking",
        "please register laptop {serial} to me",
        "files are in C:\\Users\\{first}{last}\\Documents\\tax",
    ],
    "financial": [
        "Charge card {card}, exp {exp}, CVV {cvv}",
        "my card number is {card}",
        "the CVV on the back is {cvv}, expiry {exp}",
        "wire it to IBAN {iban}",
        "my salary is {salary} a year, can I afford the plan?",
        "my credit score is {score}, will the loan go through?",
        "pay with {card} please, security code {cvv}",
        "I earn {salary} before tax",
    ],
    "health": [
        "I was diagnosed with {condition} last year",
        "I take {drug} every morning, can I drink coffee with it?",
        "{relative} has {condition} and needs time off",
        "my doctor put me on {drug} last month",
        "I've been living with {condition} since 2015",
        "my blood sugar was 190 this morning",
        "I'm allergic to penicillin, note that on my file",
        "my therapist says my {condition} is getting better",
    ],
    "identification": [
        "my SSN is {ssn}",
        "my national ID is {natid}",
        "passport number {passport}, expiring next spring",
        "driver licence {licence}, please add it to the rental",
        "social security number: {ssn}",
        "tax ID {natid} for the invoice",
        "my passport is {passport}, can you book the visa appointment?",
        "employee ID card number {natid} got demagnetized",
    ],
    "location": [
        "I'm at {lat} N, {lon} E, send the driver",
        "my home IP is {ip}, why is it blocked?",
        "booking reference {booking}, flight {flight} on Friday",
        "I'll be at the Hilton in {city} from the 3rd, room under {last}",
        "GPS: {lat}, {lon}",
        "my flight {flight} lands at 6, pick me up at home",
        "we're staying at {street}, {city} until Sunday",
        "connect from {ip} only, that's my house",
    ],
    "media": [
        "here is our chat log: '{first}: my SSN is {ssn}'",
        "my email signature: {first} {last} | {phone} | {street}",
        "error log: user={email} password={password} login failed",
        "transcript: {first} said her diagnosis is {condition}",
        "the screenshot shows my card {card}",
        "incident notes: {first} {last} was drunk at the offsite and cried in the car park",
        "my journal entry says I've felt hopeless for weeks",
        "forwarding the thread where {first} shares her home address {street}",
    ],
}

# Implied: a disclosure with no detectable value (hand-written; each is its own template).
IMPLIED: dict[str, list[str]] = {
    "contact": [
        "my ex keeps turning up where I live, how do I hide my details?",
        "the guy from accounts, you know the one, his wife's name is on the form",
        "I moved in with my partner last month, update where my post goes",
        "my emergency contact is my sister, same surname as me",
        "put my mum down as next of kin, she's at the old family house",
        "send the letter to my parents' place, the one by the lake",
        "my kids' names are on the school form I attached earlier",
        "I changed my name after the divorce, please fix the records",
        "call me on my personal mobile, not the one HR has",
        "the neighbour two doors down has my spare key and my number",
        "my birth name is different from the one on my badge",
        "I use my middle name at work but the bank has my first one",
    ],
    "account": [
        "my customer account has the old address, the one from before the move",
        "the loyalty card I've had since I was a student, the points vanished",
        "log into my profile and see what I bought last week",
        "the account is under my maiden name, check that one",
        "my birthday is the same day as Christmas, so you can verify me",
        "I'm the customer who called yesterday about the double charge on my account",
        "my gaming handle is the one with my dog's name and birth year",
        "check my order history, the embarrassing purchase shouldn't be there",
        "my member profile still shows my previous employer",
        "I worked at the bank for ten years before they fired me",
        "my account got flagged after the chargeback dispute last month",
        "I have the premium membership under my husband's login",
    ],
    "authentication": [
        "the password from last summer with the year and an exclamation mark",
        "my password is my dog's name followed by my birth year",
        "I use the same PIN as my bank card for the door",
        "the security answer is my first school, you know the one in town",
        "my passcode is my wedding anniversary",
        "the wifi key is written on a sticky note under my keyboard, it's my son's name",
        "I reused the old password from the gym account on the VPN",
        "my mother's maiden name is the answer to all my security questions",
        "the code they texted me, I'll read it to you",
        "I put my login in the shared spreadsheet so the team can use it",
        "the master password is the name of my first car plus 123",
        "my banking PIN is my birth date backwards",
    ],
    "device": [
        "my personal laptop has all the client files on it, is that ok?",
        "the phone I reported stolen had my work email on it",
        "my home router is the one with the default admin login still",
        "the tablet my daughter uses is logged into my work account",
        "I installed the tracker app on my partner's phone",
        "my smartwatch is synced to my work profile and my health app",
        "the serial sticker on my laptop is peeling off, I'll read it out",
        "my old phone with all my photos went to the recycling centre",
        "the USB stick I lost had the payroll export on it",
        "my home PC is where I keep the scans of my documents",
        "the second phone I carry is the one my family doesn't know about",
        "my car's tracker shows where I've been all month",
    ],
    "financial": [
        "I'm three months behind on my mortgage and the bank is calling",
        "my pay was cut after the review and I can't cover rent",
        "the card I use for everything, the gold one, was declined again",
        "I declared bankruptcy a few years back, does that matter for the loan?",
        "my credit is terrible since the divorce",
        "I owe the tax office more than I make in a year",
        "my bonus this year was less than half of last year's",
        "I've maxed out both cards paying for my dad's care",
        "my savings account is nearly empty after the lawsuit",
        "the payday loan people keep calling me at work",
        "I earn less than the new hire on my team, I saw his payslip",
        "my wage garnishment starts next month",
    ],
    "health": [
        "the condition I've had since childhood, the sugar one",
        "the medication I take for the thing with my thyroid",
        "my smartwatch log has my asthma history",
        "I've been seeing someone about my dark thoughts again",
        "since the miscarriage I haven't been sleeping",
        "I need to leave early for my chemo session",
        "the pills for my moods make me drowsy at work",
        "my results came back positive, I'm not ready to tell my manager",
        "I'm in recovery and the office drinks are hard for me",
        "I have a disability that isn't visible and I need a different chair",
        "my genetic test showed I carry the gene my mum had",
        "I've been off work because of my breakdown",
        "the injections I do for my blood sugar need a fridge",
        "I'm pregnant but haven't told anyone at work yet",
    ],
    "identification": [
        "I'll send a photo of my passport, the page with my details",
        "the number on my social security card is on the back of the form",
        "my driving licence has the old address, should I scan it?",
        "I attached my ID card both sides",
        "my visa expires next month and my status depends on this job",
        "the tax number I gave you last time is still valid",
        "I'm an undocumented worker, does that change the payout?",
        "my residence permit was rejected, what do I tell HR?",
        "my immigration case number is in the letter I forwarded",
        "use the ID I showed at reception for the badge",
        "my employee number is the same as my old student number",
        "my voter registration card has my old name",
    ],
    "location": [
        "I'm at home alone this weekend, my street is the one behind the school",
        "I'll be in the hotel by the station in room 412 tonight",
        "my flight tomorrow leaves at 7, the house will be empty for two weeks",
        "my running route every morning goes past the old mill at 6",
        "we're staying at my parents' cottage until the divorce is final",
        "my location history shows I was at the clinic on Tuesday",
        "I'm hiding at a shelter now, don't tell anyone where",
        "track my phone, it's wherever I am right now",
        "my kid walks home from school alone at 3:15 down our road",
        "the trip itinerary I sent has all the hotels we're in",
        "I connect from my home network every night around ten",
        "the spare key is under the flowerpot by our front door",
    ],
    "media": [
        "here's a screenshot of my medical chat with the nurse",
        "I'm pasting my bank statement so you can explain the fees",
        "my diary from therapy, can you summarize it?",
        "attaching the voice memo where my manager shouts at me",
        "the error log has everyone's login in it, I'll paste it",
        "this is the email thread about my disciplinary hearing",
        "I've written down what happened the night of the assault",
        "my performance review notes say I cried in the meeting",
        "the photo I'm sending shows my prescription label",
        "this chat with my ex has my address and his threats in it",
        "here is my mood journal from the last month",
        "the incident report about my colleague's panic attack",
    ],
}

# Near-miss negatives: same vocabulary, no disclosure.
NEAR_MISS: dict[str, list[str]] = {
    "contact": [
        "How do I change the display name on my account?",
        "What format should a postal address take on the form?",
        "Who should be listed as an emergency contact in the HR system?",
        "Can the CRM store two phone numbers per customer?",
        "Is it possible to hide email addresses in the staff directory?",
        "What's the policy on sharing colleagues' contact details?",
        "Example: Jane Doe, 123 Main Street, Anytown",
        "How do I add a next of kin field to the template?",
        "How do I update a customer's postal address in the CRM?",
        "What is the correct way to write an international phone number?",
        "Can I email the whole team's contact list to a vendor?",
        "Where does the HR system keep next-of-kin details?",
        "Should a maiden name field be optional?",
        "How do I export the address book from Outlook?",
    ],
    "account": [
        "How long is a customer number in the new system?",
        "What does the loyalty program give members?",
        "Where do I find my account settings?",
        "Why do we ask for date of birth at sign-up?",
        "How do I merge two customer accounts?",
        "What counts as a valid member ID format?",
        "Can users change their social media handle in the profile page?",
        "Which fields in the account profile are mandatory?",
        "How do I close a customer account that is inactive?",
        "Why does sign-up ask for a date of birth?",
        "What happens to loyalty points when an account is merged?",
        "How do I change my username on the portal?",
        "What is the customer ID format for new accounts?",
        "Can support staff see a customer's order history?",
    ],
    "authentication": [
        "What is the PIN length requirement?",
        "How do I reset a password?",
        "What makes a strong passphrase?",
        "Does the VPN support two-factor authentication?",
        "How often do one-time codes expire?",
        "Where should API keys be stored in our repos?",
        "Is a password manager approved for company use?",
        "What are the password rules for the new portal?",
        "How do I change my password on the intranet?",
        "What should I do if I forgot my PIN?",
        "Why does the 2FA app show a different code every time?",
        "How long should a password be under the new policy?",
        "Can I reuse an old password after a year?",
        "What is the difference between a password and a passphrase?",
    ],
    "device": [
        "Where is the serial number printed on the laptop?",
        "How do I find a phone's IMEI?",
        "What is a MAC address used for?",
        "Which laptops are covered by the warranty?",
        "How do I register a new device with IT?",
        "Can I use my own phone for work email?",
        "What's the process for a lost device report?",
        "Does the router support MAC filtering?",
        "How do I check the serial number of a monitor?",
        "Where do I find the IMEI on an iPhone?",
        "How do I look up the MAC address of a printer?",
        "What is the process for returning a company laptop?",
        "Which phones does the mobile device policy support?",
        "How do I wipe a lost phone remotely?",
    ],
    "financial": [
        "What does CVV stand for?",
        "How long does an IBAN transfer take?",
        "What is the salary band for a senior engineer?",
        "How are credit scores calculated?",
        "Which card types do we accept at checkout?",
        "The test card number 4111 1111 1111 1111 is for the sandbox only",
        "How do expense reports get approved?",
        "What is the average salary in the industry?",
        "How do I update the card on file for the team subscription?",
        "What is a routing number?",
        "How is a credit score different from a credit report?",
        "Which banks support IBAN transfers to the US?",
        "How are salary bands reviewed each year?",
        "What does a loan-to-value ratio mean?",
    ],
    "health": [
        "What is asthma?",
        "How does metformin work?",
        "What are the symptoms of type 2 diabetes?",
        "Does the health plan cover therapy sessions?",
        "How many sick days do we get per year?",
        "What's the process for requesting accessibility equipment?",
        "Is there a first-aid kit on the third floor?",
        "Write a blog post about managing stress at work",
        "How do I request sick leave in the HR portal?",
        "What does the insurance cover for prescriptions?",
        "How do I book the flu vaccination at the office clinic?",
        "What are common side effects of antidepressants?",
        "Is there a quiet room for employees who need a break?",
        "What is the policy on medical appointments during work hours?",
    ],
    "identification": [
        "The documentation's sample SSN is 000-00-0000",
        "What documents count as proof of identity?",
        "How long is a UK passport number?",
        "Do contractors need a tax ID to get paid?",
        "Which countries need a visa for our conference?",
        "How do I renew a driver licence?",
        "What is a national insurance number used for?",
        "Where do new hires get their employee ID badge?",
        "How do I check if a passport number is valid?",
        "What is a social security number used for?",
        "Which ID documents does HR accept for onboarding?",
        "How long does a visa application usually take?",
        "What is the format of a German tax ID?",
        "How do I replace a lost employee badge?",
    ],
    "location": [
        "What are the GPS coordinates format rules in the app?",
        "How do I find my IP address on Windows?",
        "Which hotels are near the Berlin office?",
        "What's the travel policy for booking flights?",
        "Does the app need location permission?",
        "How do I book a meeting room in the Lisbon office?",
        "What time zone is the Singapore team in?",
        "Is the office open on public holidays?",
        "How do I share my location in a Teams meeting?",
        "What's the best hotel booking site for business travel?",
        "How do I change the time zone on my calendar?",
        "Which airlines are on the preferred travel list?",
        "How do I find the Wi-Fi network in the Paris office?",
        "What does a GPS coordinate like 51.5 N mean?",
    ],
    "media": [
        "How do I export a chat log from Teams?",
        "What should an email signature contain?",
        "How long do we keep error logs?",
        "Can you summarize this public press release?",
        "How do I attach a screenshot to a ticket?",
        "What's the template for an incident report?",
        "Where are meeting transcripts stored?",
        "How do I blur faces in a video?",
        "How do I redact a PDF before sharing it?",
        "Can chat logs be used in a disciplinary process?",
        "How do I record a Teams meeting?",
        "What is the retention period for voice memos?",
        "How should I store screenshots that contain customer data?",
        "How do I write an incident report template for the wiki?",
    ],
}

ORDINARY: list[str] = [
    "Can you draft an agenda for Thursday's planning meeting?",
    "Summarize the Q3 roadmap in three bullet points",
    "Translate this sentence into Spanish: the release is delayed",
    "What's the difference between a list and a tuple in Python?",
    "Write a polite reminder about the timesheet deadline",
    "How do I make a pivot table in Excel?",
    "Explain the new expense policy in simple terms",
    "Give me five name ideas for the new product line",
    "What time is the all-hands on Friday?",
    "Rewrite this paragraph to sound more formal",
    "How do I set up a recurring meeting in Outlook?",
    "What is our refund policy for annual plans?",
    "Draft a job ad for a junior data analyst",
    "Explain what a REST API is to a new hire",
    "List the steps to onboard a new vendor",
    "Can you proofread the release notes?",
    "Suggest a title for the team newsletter",
    "How do I write a SQL join across three tables?",
    "What are good icebreakers for a workshop?",
    "Outline a presentation on our sustainability goals",
    "Which regions does the product ship to?",
    "Convert 30 degrees Celsius to Fahrenheit",
    "What's the best way to structure a status update?",
    "Help me write an out-of-office message",
    "Compare Kanban and Scrum for a small team",
    "What should be in a project kickoff email?",
    "Create a checklist for the office move",
    "Explain compound interest with an example",
    "Write a haiku about Monday mornings",
    "How do I cite a source in APA style?",
    "What's a good format for meeting minutes?",
    "Tell me about the history of the company's logo",
    # Short follow-ups in a conversation (version 3): no content of their own.
    "Now say it twice.",
    "Thanks! Say goodbye.",
    "And a fourth one?",
    "Make it shorter.",
    "Can you expand on the second point?",
    "Try again, more formal this time.",
    "Perfect, thank you.",
    "Put that in a table.",
    "Now translate it into French.",
    "Add a closing line.",
    "ok",
    "Repeat the last answer.",
    "Give me two more examples.",
    "Great, now summarize it in one sentence.",
    "Same again but for the Berlin office.",
    "That's wrong, check the numbers again.",
    "Use bullet points instead.",
    "Say it in a friendlier tone.",
    "Continue.",
    "What about next quarter?",
]

# Version 4: work requests that carry a piece of text to act on ("Rewrite this more politely: ...").
# The classifier flagged such imperative requests although the text in them discloses nothing about
# anyone. Each frame is one template; it is paired with neutral texts (negatives) and with texts
# that disclose something about the writer or someone they know (positives), so the head learns
# that the disclosure, not the request around it, decides. Train and dev only (`_split_of`).
WORK_FRAMES: list[str] = [
    "Rewrite this so it sounds friendlier: {text}",
    "Make this more concise: {text}",
    "Turn this into a bullet list: {text}",
    "Translate into German: {text}",
    "Put this into plain English for the newsletter: {text}",
    "Fix the grammar here: {text}",
    "Draft a reply to this: {text}",
    "Shorten this to one line for Slack: {text}",
    "Give this a more professional tone - {text}",
    "Write a subject line for an email that says: {text}",
    "Turn this note into a short announcement: {text}",
    "Proofread: {text}",
    "Translate to Portuguese please: {text}",
    "Can you tidy up this sentence? {text}",
    "Summarise in a few words: {text}",
    "Rephrase for a customer audience: {text}",
    "Convert this into a to-do item: {text}",
    "Paraphrase this without changing the meaning: {text}",
]
WORK_NEUTRAL: list[str] = [
    "the quarterly review moves to the second week of March",
    "our new pricing page goes live on Monday",
    "the build pipeline fails when the cache is cold",
    "please submit expense reports before the end of the month",
    "the warehouse will be closed for stocktaking on Friday",
    "we are looking for volunteers to run the charity bake sale",
    "the API now returns paginated results by default",
    "the team offsite has been postponed until spring",
    "version 2.3 fixes the export bug and speeds up search",
    "the cafeteria menu changes every two weeks",
    "thanks everyone for finishing the migration ahead of schedule",
    "the parking garage entrance is on the east side from next week",
    "customers can now pay invoices in euros and pounds",
    "the webinar recording will be shared with all attendees",
    "we need two more reviewers for the design document",
    "the printer on the fourth floor is out of toner again",
]
WORK_DISCLOSING: dict[str, list[str]] = {
    "health": [
        "I can't come in because my migraines have been bad since the new medication",
        "my son's seizure last night means I'm at the hospital today",
    ],
    "contact": ["my new home address is the blue house at the end of Fern Close, number nine"],
    "authentication": ["the shared drive password is still my cat's name with 99 at the end"],
    "financial": ["my salary went down after the restructure and I'm behind on the mortgage"],
    "identification": ["I lost my passport so my visa paperwork is stuck at the embassy"],
    "media": ["after the argument with my manager I wrote down everything she said to me"],
    "location": ["I'm staying at my sister's flat above the bakery on Mill Street until Sunday"],
}


def work_requests() -> list[dict[str, object]]:
    """Work requests around a text: neutral texts are negatives, disclosing texts positives."""
    rng = random.Random(SEED + 4)  # its own stream: the earlier templates keep their fills
    rows = []
    disclosing = [(c, t) for c, texts in WORK_DISCLOSING.items() for t in texts]
    for i, frame in enumerate(WORK_FRAMES):
        tid = f"work:{i}"
        for text in rng.sample(WORK_NEUTRAL, 5):
            rows.append(_row(frame.format(text=text), False, "none", "ordinary", tid))
        for category, text in rng.sample(disclosing, 2):
            rows.append(_row(frame.format(text=text), True, category, "implied", tid))
    return rows


# Version 5 (issue 12, honest precision): near-miss negatives of more shapes (statements of policy,
# how-to requests in the imperative, documentation samples, product and project names that look like
# conditions, small talk, follow-ups that point back at an earlier turn), and implied positives of
# more shapes (disclosures inside a question or a request, short ones), so precision is not bought
# with recall. They draw from their own random stream, so every earlier row is unchanged, and split
# by template like the rest, so a quarter of the new templates are held back.
NEAR_MISS_V5: dict[str, list[str]] = {
    "contact": [
        "Explain how the staff directory decides whose phone number is shown",
        "Our privacy notice says home addresses are only visible to HR",
        "Sample letter header: [Name], [Street], [City], [Postcode]",
        "Tell me how to format a UK postcode correctly",
        "The emergency contact form has three fields: name, relationship and phone",
        "Walk me through adding a shared mailbox to Outlook",
        "Draft a reminder asking everyone to check their emergency contact is current",
        "Is it ok to put a personal mobile number in an email signature?",
    ],
    "account": [
        "Show me how to enable single sign-on for the customer portal",
        "The loyalty scheme resets points every January",
        "Account IDs in the demo database look like CUST000000",
        "Write a help article on how customers update their profile",
        "Customers must be 18 to open an account, per the terms",
        "Explain the difference between a user account and a service account",
        "What information does the onboarding form collect about a customer?",
        "Remind me where the account deletion request form lives",
    ],
    "authentication": [
        "Explain how two-factor authentication works to a non-technical team",
        "The policy says passwords must be at least 14 characters with no reuse",
        "Write a phishing awareness tip about never sharing one-time codes",
        "Tell me how to rotate an API key without downtime",
        "The example config uses password=changeme as a placeholder",
        "Is a four-digit PIN enough for the door locks?",
        "I forgot my password again, where is the reset link?",
        "Draft a notice that the VPN will require a new passphrase next week",
    ],
    "device": [
        "Explain how to find the serial number in System Information",
        "The asset register lists every laptop by serial number",
        "Tell me how to pair a Bluetooth headset with a work laptop",
        "Which MDM profile do new phones get?",
        "Write instructions for returning a loaner laptop",
        "The docs show a MAC address as 00:00:5E:00:53:AF in the example",
        "How do I update the firmware on the meeting room screen?",
        "My laptop is slow after the update, any tips?",
    ],
    "financial": [
        "Explain what a bank statement shows, for the finance training",
        "The expense policy caps hotel nights at 180 euros",
        "Write a FAQ entry on when salaries are paid each month",
        "Tell me how to read an IBAN",
        "The sandbox accepts the card 4242 4242 4242 4242 with any CVV",
        "What is the difference between gross and net pay?",
        "Summarise how the mortgage advice service works for employees",
    ],
    "health": [
        "What does the employee assistance programme cover?",
        "Explain the difference between sick leave and medical leave in our policy",
        "Diabetes Awareness Week starts Monday, can you draft the poster?",
        "The Lupus team's sprint demo is at three",
        "Write a short guide on ergonomic desk setup",
        "Project Asthma is the code name for the new air-quality sensor",
        "Tell me how to claim physiotherapy under the health plan",
        "List the first-aiders on each floor",
    ],
    "identification": [
        "Explain what counts as a valid photo ID for the building pass",
        "The HR form asks for a passport number only for international travel",
        "Tell me how to apply for a visa for the Tokyo conference",
        "Sample driver licence on the training slide: D1234567, John Example",
        "Write a checklist for right-to-work document checks",
        "What is the format of a US social security number?",
        "Show me where new starters upload their ID documents",
        "The tax ID field on the invoice template is optional for individuals",
    ],
    "location": [
        "Explain how the office Wi-Fi guest network works",
        "The travel policy requires booking hotels through the portal",
        "Tell me how to get from the airport to the Madrid office",
        "The map widget takes coordinates like 40.4168, -3.7038 in the demo",
        "Which office is closest to the central station?",
        "Write directions to the venue for the summer party",
        "How do I block an IP address range on the firewall?",
        "Show me how to set my working location in the calendar",
    ],
    "media": [
        "Explain how to redact names from a meeting transcript",
        "Write an email signature template for the sales team",
        "The incident report template has sections for timeline, impact and actions",
        "Tell me how to search the chat history in Teams",
        "How do we anonymise screenshots before posting them in the wiki?",
        "Summarise the attached public blog post about remote work",
        "The sample log line reads: user=demo action=login result=ok",
        "Draft guidance on what not to paste into support tickets",
    ],
}

ORDINARY_V5: list[str] = [
    "thanks",
    "and the other one?",
    "ok thanks",
    "yes please",
    "no, the first version",
    "What about the second one?",
    "Again, but shorter.",
    "Can you do the same for the rest?",
    "Hmm, that doesn't look right.",
    "Which one is better?",
    "Sounds good!",
    "Show me the previous answer again",
    "Good morning!",
    "How are you today?",
    "Tell me a joke about spreadsheets",
    "What's the weather usually like in Lisbon in May?",
    "Have a nice weekend!",
    "Nice, that works.",
    "Use the numbers from the table above.",
    "Explain it like I'm five.",
    "Why is that?",
    "Give me the code again with comments",
    "Write a thank-you note to the facilities team",
    "What's a good name for a Slack channel about the launch?",
]

IMPLIED_V5: dict[str, list[str]] = {
    "contact": [
        "Can you change where my payslips go? I've moved in with my girlfriend across town",
        "my sister is my emergency contact now, not my ex",
        "How do I stop my ex finding my new address through the directory? I've just moved",
        "I go by my married name now but my badge has my old one",
    ],
    "account": [
        "why was my loyalty account closed? I've been a member since 2009",
        "I'm the one who opened three accounts under different emails",
        "my profile still lists the company that let me go",
        "Can you look at my order history? my husband bought something on my account",
    ],
    "authentication": [
        "Is it safe that my PIN is the last four digits of my phone number?",
        "I wrote the admin password on the whiteboard behind me",
        "my password is the same on every site, it's my daughter's birthday",
        "What happens if I told a caller the code from my text message?",
    ],
    "device": [
        "My work laptop was in the car that got broken into last night",
        "I let my son use my company phone and he installed a bunch of apps",
        "how do I wipe my laptop? I've had the customer exports on it since March",
        "my personal phone has the VPN certificate on it",
    ],
    "financial": [
        "Can I get an advance on my pay? I'm behind on rent",
        "my credit score dropped after I missed the car payments",
        "I've got a county court judgment against me, will the bank find out?",
        "What should I do, my debts are more than my yearly pay",
    ],
    "health": [
        "Can I work from home on the days my migraines are bad?",
        "I'm on antidepressants and they make me foggy in the mornings",
        "I had a seizure at my desk last week, should HR know?",
        "my back surgery is in June, how much leave can I take?",
        "I'm waiting for my biopsy results",
    ],
    "identification": [
        "Is it a problem that my passport expired last month? I fly on Friday",
        "my residence permit is tied to this job, what happens if I'm let go?",
        "I gave the wrong social security number on my onboarding form",
        "my ID card was stolen with my wallet yesterday",
    ],
    "location": [
        "Can you book me a taxi? I'm at the hotel by the river, room 318",
        "I'm home alone this week while my wife is away, so I can take calls late",
        "my daughter's school is the one on Park Road, she finishes at three",
        "I moved to the flat above the pharmacy near the office",
    ],
    "media": [
        "Can you summarise this chat where my manager threatens to fire me?",
        "here's my therapy journal from this month, make it shorter",
        "I've attached the photo of my payslip, what does the deduction mean?",
        "Summarise the transcript of my disciplinary meeting",
    ],
}


def version_five() -> list[dict[str, object]]:
    """Version 5 rows: near-miss and ordinary negatives with phrasing variants, implied positives."""
    rng = random.Random(SEED + 5)  # its own stream: every earlier row keeps its fills
    rows = []
    for category, texts in NEAR_MISS_V5.items():
        for i, text in enumerate(texts):
            tid = f"v5:near_miss:{category}:{i}"
            rows.append(_row(text, False, category, "near_miss", tid))
            rows += [_row(_variant(text, rng), False, category, "near_miss", tid) for _ in range(4)]
    for i, text in enumerate(ORDINARY_V5):
        tid = f"v5:ordinary:{i}"
        rows.append(_row(text, False, "none", "ordinary", tid))
        rows += [_row(_variant(text, rng), False, "none", "ordinary", tid) for _ in range(4)]
    for category, texts in IMPLIED_V5.items():
        for i, text in enumerate(texts):
            tid = f"v5:implied:{category}:{i}"
            rows.append(_row(text, True, category, "implied", tid))
            rows += [_row(_variant(text, rng), True, category, "implied", tid) for _ in range(2)]
    return rows


# Version 6 (issue 12, precision round two): the false-flag classes seen on dev and described (not
# quoted) from the lead's independent check: task requests about a given text, verbless and
# inverted questions about tools and policies, published test values, complaints and corrections
# with no value. Implied positives of the same shapes keep recall honest. Own random stream; split
# by template like the rest, so a quarter of these templates are held back.
NEAR_MISS_V6: dict[str, list[str]] = {
    "none": [
        "Translate this phrase into Spanish: the meeting moved to Thursday",
        "Rewrite this more politely: send me the slides today",
        "Draft a reply to the vendor saying we need another week",
        "Make this sound less formal: kindly revert at your earliest convenience",
        "Proofread this paragraph about the new canteen opening hours",
        "Turn these bullet points into a short email to the team",
        "Summarise this thread about the office move in three lines",
        "Shorten this announcement so it fits in one Slack message",
        "Convert this table of quarterly targets into a paragraph",
        "Fix the grammar in: their going to the offsite tomorrow",
        "Give me three subject lines for the product launch email",
        "Write a polite no to the conference sponsorship request",
        "Reply to this customer: the parcel left our warehouse yesterday",
        "Correct the spelling in this sentence about the budget review",
    ],
    "authentication": [
        "Password manager approved by IT?",
        "Which authenticator app do I install for the VPN?",
        "Do I need 2FA for the staging server too?",
        "SSO mandatory for contractors?",
        "I forgot my password again",
        "ugh, locked out of my account again, who do I call?",
        "I can't log in to the expenses tool since this morning",
        "Password reset link expired, can you send another?",
    ],
    "account": [
        "Which form do I use for a new customer account?",
        "Customer portal down for everyone?",
        "Do we still support guest checkout?",
        "Loyalty points transferable between accounts?",
    ],
    "financial": [
        "Stripe's test card 4242 4242 4242 4242 declines in staging, why?",
        "The checkout tests use 5555 5555 5555 4444 as the Mastercard",
        "Our Amex test number 3782 822463 10005 fails the Luhn check in the new library",
        "The IBAN validator rejects GB82 WEST 1234 5698 7654 32, which is the registry example",
        "Corporate card accepted for train tickets?",
        "Which cost centre do I charge the team lunch to?",
        "That's wrong, check the numbers again",
        "The totals are off, redo the sum please",
    ],
    "identification": [
        "The onboarding mock-up shows 987-65-4320 in the SSN field",
        "Passport scan required for the Berlin trip?",
        "Which ID do I bring for the building pass?",
        "Visa letter template available somewhere?",
    ],
    "location": [
        "Firewall logs show 198.51.100.23 hitting the login page in the lab",
        "Point the test client at 203.0.113.50 and 2001:db8::10",
        "The demo dialler calls 555-0134 when you press the button",
        "Hotel booking through the portal or directly?",
        "Which office do I badge into on Fridays?",
    ],
    "health": [
        "Flu jabs available at the office this year?",
        "Which form do I use for a sick note?",
        "No, that's not what I asked, I meant the dental plan summary",
        "That figure is still incorrect, the plan covers two visits",
    ],
    "device": [
        "Docking station compatible with the new laptops?",
        "Which charger do I order for the meeting room tablet?",
        "That's not right, the firmware version is in the second column",
    ],
}

IMPLIED_V6: dict[str, list[str]] = {
    "health": [
        "Rewrite this note to my boss: my chemo starts Monday so I'll be out",
        "Translate for the pharmacist: I am allergic to penicillin",
        "I forgot my inhaler at home and my chest is tight",
        "Draft an email explaining that my depression is back and I need a week",
    ],
    "financial": [
        "Make this more formal: I can't pay my rent this month because my wages were garnished",
        "That's wrong, my salary was cut last year, redo it with the lower figure",
        "Reply to the bank for me: I missed three loan payments after my divorce",
    ],
    "contact": [
        "Translate this for my landlord: my new address is the flat above the dentist",
        "Draft a note that my emergency contact is now my brother in Leeds",
    ],
    "identification": [
        "Rewrite this politely: my passport was confiscated at the border",
        "I lost my residence card and my work permit depends on it",
    ],
    "media": [
        "Summarise this chat where my ex threatens to post my photos",
        "Proofread my statement to the police about what my neighbour did",
    ],
    "authentication": [
        "That's wrong, my PIN is the one from my old card, not the new one",
        "Rewrite this: I told the caller my one-time code before I realised",
    ],
    "location": [
        "Draft a message that I'm staying at my mother's place near the hospital until Friday",
    ],
}


def version_six() -> list[dict[str, object]]:
    """Version 6 rows: near-miss negatives of the round-two shapes, implied positives alike."""
    rng = random.Random(SEED + 6)  # its own stream: every earlier row keeps its fills
    rows = []
    for category, texts in NEAR_MISS_V6.items():
        form = "ordinary" if category == "none" else "near_miss"
        for i, text in enumerate(texts):
            tid = f"v6:{form}:{category}:{i}"
            rows.append(_row(text, False, category, form, tid))
            rows += [_row(_variant(text, rng), False, category, form, tid) for _ in range(4)]
    for category, texts in IMPLIED_V6.items():
        for i, text in enumerate(texts):
            tid = f"v6:implied:{category}:{i}"
            rows.append(_row(text, True, category, "implied", tid))
            rows += [_row(_variant(text, rng), True, category, "implied", tid) for _ in range(2)]
    return rows


def _fill(template: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SLOTS[m.group(1)](rng), template)


_WORDS = "zero one two three four five six seven eight nine".split()
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"})
_TRIGGERS = re.compile(
    r"\b(password|passphrase|number|card|account|address|serial|passport|licence|salary|"
    r"diagnosed|national|security|customer|member|email|phone|birth|credit|code)\b",
    re.I,
)


def _space_digits(text: str) -> str:
    return re.sub(r"\d[\d\s-]*\d", lambda m: " ".join(c for c in m.group() if c.isdigit()), text)


def _digit_words(text: str) -> str:
    spelled = re.sub(r"\d", lambda m: " " + _WORDS[int(m.group())] + " ", text)
    return re.sub(r" {2,}", " ", spelled).strip()


def _drop_vowels(text: str) -> str:
    def strip(m: re.Match[str]) -> str:
        word = m.group()
        return word[0] + re.sub(r"[aeiou]", "", word[1:])

    return _TRIGGERS.sub(strip, text)


def _leet(text: str) -> str:
    return _TRIGGERS.sub(lambda m: m.group().lower().translate(_LEET), text)


def _typo(text: str, rng: random.Random) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group()
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]

    return _TRIGGERS.sub(swap, text)


def _spaced_letters(text: str) -> str:
    return re.sub(r"\b(PIN|SSN|DOB|CVV|IBAN|IMEI|MAC|ID)\b", lambda m: " ".join(m.group()), text)


def obfuscate(text: str, rng: random.Random) -> str:
    """One or two of the obfuscations a user (or an evader) applies; always changes the text."""
    moves: list[Callable[[str], str]] = [
        _space_digits, _digit_words, _drop_vowels, _leet, lambda t: _typo(t, rng), _spaced_letters,
    ]  # fmt: skip
    rng.shuffle(moves)
    out = text
    for move in moves:
        changed = move(out)
        if changed != out:
            out = changed
            if rng.random() < 0.5:
                break
    return out if out != text else _space_digits(text.upper())


def _split_of(template_id: str) -> str:
    bucket = int(hashlib.sha256(f"{SEED}:{template_id}".encode()).hexdigest()[:8], 16) % 100
    if template_id.startswith("work:"):
        # Added after the held-back split was fixed: train and dev only, so it stays unseen.
        return "dev" if bucket < 30 else "train"
    return "heldback" if bucket < 25 else "dev" if bucket < 40 else "train"


def _row(text: str, sensitive: bool, category: str, form: str, template: str) -> dict[str, object]:
    return {"text": text, "sensitive": sensitive, "category": category, "form": form, "template": template}


def generate() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    rows = []
    for category, templates in DIRECT.items():
        for i, template in enumerate(templates):
            tid = f"direct:{category}:{i}"
            for _ in range(FILLS_POSITIVE):
                text = _fill(template, rng)
                rows.append(_row(text, True, category, "direct", tid))
                rows.append(_row(obfuscate(text, rng), True, category, "obfuscated", tid))
    for category, texts in IMPLIED.items():
        rows += [_row(t, True, category, "implied", f"implied:{category}:{i}") for i, t in enumerate(texts)]
    for category, texts in NEAR_MISS.items():
        for i, text in enumerate(texts):
            tid = f"near_miss:{category}:{i}"
            rows.append(_row(text, False, category, "near_miss", tid))
            variants = [_variant(text, rng) for _ in range(FILLS_NEGATIVE)]
            rows += [_row(variant, False, category, "near_miss", tid) for variant in variants]
    for i, text in enumerate(ORDINARY):
        tid = f"ordinary:{i}"
        rows.append(_row(text, False, "none", "ordinary", tid))
        rows += [_row(_variant(text, rng), False, "none", "ordinary", tid) for _ in range(FILLS_NEGATIVE)]
    rows += work_requests()
    rows += version_five()
    rows += version_six()
    unique = {str(row["text"]): row for row in rows}
    return list(unique.values())


_OPENERS = ("", "Quick question: ", "Hi, ", "Hey team, ", "Sorry to bother you, ", "One more thing: ")
_CLOSERS = ("", " Thanks!", " Thanks in advance.", " Cheers.", " (asking for the wiki)", " no rush")


def _variant(text: str, rng: random.Random) -> str:
    """A negative as different people would phrase it: an opener, a closer, casing."""
    out = rng.choice(_OPENERS) + text + rng.choice(_CLOSERS)
    return out.lower() if rng.random() < 0.25 else out


def main() -> None:
    rows = generate()
    splits: dict[str, list[dict[str, object]]] = {"train": [], "dev": [], "heldback": []}
    for row in rows:
        splits[_split_of(str(row["template"]))].append(row)
    for name, part in splits.items():
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in part)
        positives = sum(1 for row in part if row["sensitive"])
        print(f"{name}: {len(part)} messages, {positives} sensitive, {len(part) - positives} not")


if __name__ == "__main__":
    main()
