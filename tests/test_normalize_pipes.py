"""A pipe that delimits a number is not the digit one (issue 12): "|86.121.97.248|" in a log line
must stay an IP address, while "4|71|9" style look-alikes inside a number still fold."""

from __future__ import annotations

from routing.normalize import normalize


def test_pipes_around_an_ip_address_are_kept() -> None:
    text = "client_ip = ?%20\\|86.121.97.248|%20/"
    assert "|86.121.97.248|" in normalize(text).text


def test_pipe_inside_a_number_still_folds_to_one() -> None:
    assert "123415678" in normalize("|1234|5678|").text
