"""Settings for the sensitivity gate and the routing policy."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class RoutingSettings(BaseModel):
    # The policy file (TOML); empty means the built-in default policy.
    policy_path: Path | None = None
