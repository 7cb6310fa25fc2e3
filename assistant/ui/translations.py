"""Our wording for Chainlit's own screens (the sign-in form), written into the app root.

Chainlit copies its default translations into `<app root>/.chainlit/translations/` only where a
file is missing, so `confidante serve` writes ours first: the defaults with these overrides on
top. Accounts are user names, not e-mail addresses, and a wrong password reads as a sentence.
Only wording changes here; it never adds keys the frontend does not read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SIGN_IN_REFUSED = "Wrong user name or password. Check both and try again."

# Per language, nested like Chainlit's files. English covers en-* (Chainlit falls back to it).
OVERRIDES: dict[str, dict[str, Any]] = {
    "en-US": {
        "auth": {
            "login": {
                "title": "Sign in to Confidante",
                "form": {
                    "email": {
                        "label": "User name",
                        "placeholder": "your user name",
                        "required": "Enter your user name",
                    },
                    "password": {"required": "Enter your password"},
                },
                "errors": {"credentialsSignin": SIGN_IN_REFUSED, "default": "Sign-in failed. Try again."},
            }
        }
    }
}


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _merge(merged.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def translated(language: str, default: dict[str, Any]) -> dict[str, Any]:
    """Chainlit's file with our overrides. The form looks a failed sign-in up by the error's
    detail ("credentialssignin", lower-cased) or, as Chainlit 2.12's bundle does, by the HTTP
    status text ("Unauthorized"): all name the one case of a refused password."""
    result = _merge(default, OVERRIDES.get(language, {}))
    errors = result.get("auth", {}).get("login", {}).get("errors", {})
    if "credentialsSignin" in errors:
        for key in ("credentialssignin", "Unauthorized", "unauthorized"):
            errors[key] = errors["credentialsSignin"]
    return result


def write_translations(config_dir: Path) -> None:
    """Write every language Chainlit ships, with our overrides, into `config_dir/translations`."""
    from chainlit.config import TRANSLATIONS_DIR

    target = config_dir / "translations"
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(Path(TRANSLATIONS_DIR).glob("*.json")):
        default = json.loads(source.read_text(encoding="utf-8"))
        text = json.dumps(translated(source.stem, default), indent=4, ensure_ascii=False)
        (target / source.name).write_text(text + "\n", encoding="utf-8")
