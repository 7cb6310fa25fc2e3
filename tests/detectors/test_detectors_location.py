"""Location and network data through the gate: GPS, IP, Wi-Fi, bookings and itineraries."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("I'm at 48.8584 N, 2.2945 E", "GPS_COORDINATES"),
        ("pin me at 51°30'26\"N 0°7'39\"W", "GPS_COORDINATES"),
        ("my location is -33.8688, 151.2093", "GPS_COORDINATES"),
        ("lat 40.7484 long -73.9857", "GPS_COORDINATES"),
        ("my IP is 84.23.101.7", "IP_ADDRESS"),
        ("home router at fe80::1ff:fe23:4567:890a", "IP_ADDRESS"),
        ("the wifi is called HomeNet_5G", "WIFI_SSID"),
        ("SSID: Linksys-0042", "WIFI_SSID"),
        ("booking reference QX7P2L for the hotel", "BOOKING_REFERENCE"),
        ("hotel confirmation number 8841207733", "BOOKING_REFERENCE"),
        ("I'm flying BA117 to Lisbon tomorrow", "TRAVEL_ITINERARY"),
        ("we are on flight LH 2041 on the 14th", "TRAVEL_ITINERARY"),
        ("we're staying at the Hotel Lutetia from the 3rd", "TRAVEL_ITINERARY"),
    ],
)
def test_location_data_is_pseudonymized(gate: SensitivityGate, text: str, entity: str) -> None:
    tier, entities = found(gate, text)
    assert tier is not Tier.PUBLIC
    assert entity in entities


def test_wifi_password_is_regulated(gate: SensitivityGate) -> None:
    tier, entities = found(gate, "wi-fi pwd: Bl4ckCat99")
    assert tier is Tier.REGULATED and "PASSWORD" in entities


@pytest.mark.parametrize(
    "text",
    [
        "Our office Wi-Fi is slow",
        "What are the GPS coordinates of the Eiffel Tower?",
        "Upgrade from version 1.2.3.4 to 2.0",
        "How do I find my IP address?",
        "Does flight BA117 usually leave on time?",
        "Where can I find the booking reference?",
        "The Wi-Fi is Down again.",
    ],
)
def test_location_questions_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC
