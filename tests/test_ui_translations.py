"""The sign-in wording written into the app root: user names, and a sentence for a refusal."""

from __future__ import annotations

import json

from assistant.ui.translations import SIGN_IN_REFUSED, write_translations


def test_every_language_is_written_and_english_asks_for_a_user_name(tmp_path):
    write_translations(tmp_path)
    written = {path.stem: json.loads(path.read_text()) for path in (tmp_path / "translations").glob("*.json")}
    assert {"en-US", "de-DE", "fr-FR"} <= set(written)
    login = written["en-US"]["auth"]["login"]
    assert login["form"]["email"]["label"] == "User name" and "@" not in login["form"]["email"]["placeholder"]
    # What Chainlit's form looks up after a 401: its detail lower-cased, or the status text.
    for key in ("credentialssignin", "Unauthorized", "unauthorized"):
        assert login["errors"][key] == SIGN_IN_REFUSED
    german = written["de-DE"]["auth"]["login"]["errors"]
    assert german["credentialssignin"] == german["credentialsSignin"] != SIGN_IN_REFUSED
