"""What the experiment tests share: settings for scripted traffic through the real services (no
knowledge base, no answer cache, fast password hashing)."""

from __future__ import annotations

from pathlib import Path

from assistant.governance.settings import PasswordHashSettings
from assistant.settings import Settings


def traffic_settings(data_dir: Path) -> Settings:
    settings = Settings(data_dir=data_dir)
    settings.knowledge.enabled = False
    settings.reliability.cache_enabled = False  # every turn reaches the model and is measured
    settings.governance.passwords = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
    return settings
