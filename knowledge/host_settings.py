"""The knowledge base's view of the settings tree, for tools that run without the app.

`KnowledgeBase` needs only the knowledge section and the data paths (`KnowledgeHost`); the app's
root settings satisfy that. Evaluations and the knowledge CLI, when run outside the app's command
group, read the same sections from the same sources (`CONFIDANTE_` environment variables with
`__` nesting, then `confidante.toml`) here, so this package never imports `assistant/`.
This module only reads configuration; it never opens a store or loads a model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from knowledge.settings import KnowledgeSettings
from routing.settings import RoutingSettings


class KnowledgeHostSettings(BaseSettings):
    """The knowledge and routing sections and the data directory; the others are ignored here."""

    model_config = SettingsConfigDict(env_prefix="CONFIDANTE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("./data")
    knowledge: KnowledgeSettings = KnowledgeSettings()
    # The gate that classifies ingested chunks is configured by the routing section.
    routing: RoutingSettings = RoutingSettings()

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "confidante.db"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return config_sources(settings_cls, init_settings, env_settings)


def load_settings(**overrides: Any) -> KnowledgeHostSettings:
    """The knowledge settings as the app would read them (same names, same sources)."""
    settings = KnowledgeHostSettings(**overrides)
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings


def config_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Where every Confidante settings tree reads from, in order: arguments, `CONFIDANTE_`
    environment variables, then `confidante.toml` (or the file `CONFIDANTE_CONFIG` names)."""
    toml_path = Path(os.environ.get("CONFIDANTE_CONFIG", "confidante.toml"))
    sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
    if toml_path.is_file():
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
    return tuple(sources)
