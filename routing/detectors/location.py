"""Location and network: GPS coordinates (decimal, hemisphere letters, degrees-minutes-seconds), IP
addresses, Wi-Fi network names, booking references and flight itineraries.

Coordinates and IP addresses are personal because they place a device or a person; a version number
("1.2.3.4"-like, every part under 10) is not an IP address. A flight number counts only when someone
is on it ("I'm on BA117 tomorrow"), not in a question about the route.
"""

from __future__ import annotations

import re

from routing.detectors.base import IGNORE_CASE, IdentifierRule
from routing.detectors.fuzzy import PERSON_CUE, AllContext, fuzzy

_GPS_WORDS = fuzzy(
    "gps",
    "coordinates",
    "coords",
    "location",
    "lat",
    "latitude",
    "lng",
    "lon",
    "longitude",
    "located",
    "position",
    "pin",
    "map",
    "im at",
    "i'm at",
    "we are at",
    "parked",
    "geo",
)
_WIFI_WORDS = fuzzy("wifi", "wi fi", "ssid", "network name", "wireless network", "hotspot", "wlan", "router")
_BOOKING_WORDS = fuzzy(
    "booking reference",
    "booking ref",
    "booking number",
    "booking code",
    "booking id",
    "confirmation code",
    "confirmation number",
    "pnr",
    "record locator",
    "reservation number",
    "reservation code",
    "reservation id",
    "e ticket",
    "ticket number",
    "itinerary number",
    "hotel booking",
    "check in code",
)
_TRAVEL_WORDS = fuzzy(
    "flight", "flying", "fly", "departing", "boarding", "seat", "gate", "layover", "connecting"
)

_DEC = r"[-+]?\d{1,3}\.\d{3,}"
_DMS = r"\d{1,3}\s?°\s?\d{1,2}\s?['′]\s?(?:\d{1,2}(?:\.\d+)?\s?[\"″]\s?)?"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


def _ip_not_version(value: str) -> bool:
    parts = [int(part) for part in value.split(".")]
    return any(part >= 10 for part in parts) and parts[0] != 0


def _network_name(value: str) -> bool:
    # "is slow" / "is down" describe the network; "Linksys-5G", "HomeNet_2", "BTHub6" name it.
    return any(not char.isalpha() for char in value) or any(char.isupper() for char in value[1:])


RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "gps_hemisphere",
        "GPS_COORDINATES",
        re.compile(
            rf"(?<![\w.])(?:{_DEC}\s?°?\s?[NS]|[NS]\s?{_DEC})\s?,?\s*(?:{_DEC}\s?°?\s?[EW]|[EW]\s?{_DEC})(?![\w])",
            IGNORE_CASE,
        ),
        0.9,
    ),
    IdentifierRule(
        "gps_dms",
        "GPS_COORDINATES",
        re.compile(rf"{_DMS}[NS]\s?,?\s*{_DMS}[EW](?![\w])", IGNORE_CASE),
        0.9,
    ),
    IdentifierRule(
        "gps_decimal_pair",
        "GPS_COORDINATES",
        re.compile(r"(?<![\w.])[-+]?\d{1,2}\.\d{4,}\s?,\s?[-+]?\d{1,3}\.\d{4,}(?![\w.])"),
        0.6,
        context=_GPS_WORDS,
        context_score=0.9,
        require_context=False,
        before=40,
        after=0,
    ),
    IdentifierRule(
        "gps_labelled",
        "GPS_COORDINATES",
        re.compile(
            r"\b(?:lat|latitude)\s*[:=]?\s*[-+]?\d{1,2}\.\d{2,}\s*,?\s*(?:lon|lng|long|longitude)\s*[:=]?\s*[-+]?\d{1,3}\.\d{2,}",
            IGNORE_CASE,
        ),
        0.9,
    ),
    IdentifierRule(
        "ipv4",
        "IP_ADDRESS",
        re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"),
        0.8,
        validate=_ip_not_version,
    ),
    IdentifierRule(
        "ipv6",
        "IP_ADDRESS",
        re.compile(
            r"(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5})?)"
            r"(?![\w:])",
            IGNORE_CASE,
        ),
        0.8,
        validate=lambda v: sum(char.isdigit() for char in v) >= 3,
    ),
    IdentifierRule(
        "wifi_name",
        "WIFI_SSID",
        re.compile(
            r"(?:(?:\s+(?:is|was))?\s+(?:called|named)\s+|\s+(?:is|was)\s+(?!called|named)|\s*[:=]\s*)[\"'“]?(?P<value>[\w][\w.-]{2,31})",
            IGNORE_CASE,
        ),
        0.8,
        context=_WIFI_WORDS,
        before=32,
        after=0,
        validate=_network_name,
    ),
    IdentifierRule(
        "wifi_key",
        "PASSWORD",
        # "WiFi: Baker_St_Guest / key: tulips&rain7": a key next to a network is its password.
        re.compile(r"(?:\s+(?:is|was)\s+|\s*[:=]\s*)[\"']?(?P<value>[^\s\"']{6,63})", IGNORE_CASE),
        0.85,
        context=AllContext(_WIFI_WORDS, fuzzy("key", "pass", "pw", "password", "passphrase", "wpa")),
        before=48,
        after=0,
        validate=lambda v: any(not char.isalpha() for char in v),
    ),
    IdentifierRule(
        "staying_at",
        "TRAVEL_ITINERARY",
        # "we're staying at the Hotel Lutetia from the 3rd": where someone will be, and when.
        re.compile(
            r"(?i:\b(?:i'm|i\s+am|i'll\s+be|we're|we\s+are|we'll\s+be|he's|she's|they're)\s+staying\s+(?:at|in))"
            r"\s+(?P<value>(?:the\s+)?[A-Z][\w'&.-]*(?:\s+[A-Z][\w'&.-]*){0,4})"
        ),
        0.8,
    ),
    IdentifierRule(
        "booking_reference",
        "BOOKING_REFERENCE",
        re.compile(r"(?<![\w-])(?P<value>(?=[A-Z0-9]*[A-Z])[A-Z0-9]{5,8}|\d{6,12})(?![\w-])"),
        0.85,
        context=_BOOKING_WORDS,
        before=56,
        after=0,
    ),
    IdentifierRule(
        "flight_itinerary",
        "TRAVEL_ITINERARY",
        re.compile(r"(?<![\w-])(?P<value>(?:[A-Z]{2}|[A-Z]\d|\d[A-Z])\s?\d{2,4})(?![\w-])"),
        0.8,
        context=AllContext(_TRAVEL_WORDS, PERSON_CUE),
        before=40,
        after=24,
    ),
)
