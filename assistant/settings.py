"""The one settings tree: read once at start-up and passed down, never imported as a global.

Sources, highest priority first: keyword arguments (tests), environment variables with the
prefix `CONFIDANTE_` (nested with `__`, e.g. `CONFIDANTE_MODELS__LOCAL__PATH`), the openai SDK's
own `OPENAI_API_KEY` / `OPENAI_BASE_URL`, then an optional `confidante.toml` (path from
`CONFIDANTE_CONFIG`, default `./confidante.toml`). Secrets come only from the environment.
Each section lives next to the package it configures.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from assistant.governance.settings import GovernanceSettings
from assistant.review.models import ReviewSettings
from assistant.security.settings import SecuritySettings
from assistant.tools.catalog_settings import ToolCatalogSettings
from assistant.tools.settings import ToolSettings
from assistant.uploads.settings import UploadSettings
from knowledge.host_settings import config_sources
from knowledge.settings import KnowledgeSettings
from models.settings import ModelSettings
from routing.reliability_settings import ReliabilitySettings
from routing.settings import RoutingSettings

# What `chainlit run` sets OPENAI_API_KEY to when the `CI` variable is set (chainlit/cli/__init__.py).
CHAINLIT_CI_FAKE_KEY = "sk-FAKE-OPENAI-API-KEY"


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Exact origins allowed to talk to the app (CORS and the websocket Origin check).
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8000", "http://127.0.0.1:8000"]
    )
    # Signs Chainlit's session tokens; generated and kept in the data directory when unset.
    auth_secret: SecretStr | None = None
    session_timeout_s: int = Field(default=8 * 3600, ge=60, le=8 * 3600)
    require_login: bool = True


class ChatSettings(BaseModel):
    """How a conversation is assembled for a model."""

    # Tokens kept free for the answer when fitting history into the context window.
    answer_reserve_tokens: int = Field(default=384, ge=16)
    max_history_turns: int = Field(default=20, ge=0)
    # Passages retrieved per question (the grounded prompt keeps the best that fit its budget).
    retrieval_k: int = Field(default=5, ge=1, le=20)
    # Open an escalation for a person when an answer's confidence is low.
    escalate_low_confidence: bool = True
    system_prompt: str = (
        "You are Confidante, a careful assistant for the employees of one company. "
        "Answer briefly and plainly. If you do not know, say so."
    )


class LoggingSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONFIDANTE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Path("./data")
    server: ServerSettings = ServerSettings()
    chat: ChatSettings = ChatSettings()
    models: ModelSettings = ModelSettings()
    routing: RoutingSettings = RoutingSettings()
    reliability: ReliabilitySettings = ReliabilitySettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    governance: GovernanceSettings = GovernanceSettings()
    uploads: UploadSettings = UploadSettings()
    security: SecuritySettings = SecuritySettings()
    tool_catalog: ToolCatalogSettings = ToolCatalogSettings()
    tools: ToolSettings = ToolSettings()
    # Which answers are sampled for human review, and who may grade regulated ones.
    review: ReviewSettings = ReviewSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="before")
    @classmethod
    def _openai_sdk_variables(cls, data: Any) -> Any:
        """Take the hosted endpoint from the SDK's own variables unless set explicitly."""
        if not isinstance(data, dict):
            return data
        key, url = os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_BASE_URL")
        if key == CHAINLIT_CI_FAKE_KEY:
            # Chainlit's CI mode (`CI=true`) puts this key in the environment; it is not an
            # endpoint anyone configured, and taking it would send public turns to the SDK's
            # default (api.openai.com). Seen in fresh-clone CI runs.
            key = None
        if not (key or url):
            return data
        models = dict(data.get("models") or {})
        hosted = dict(models.get("hosted") or {})
        if key and not hosted.get("api_key"):
            hosted["api_key"] = key
        if url and not hosted.get("base_url"):
            hosted["base_url"] = url
        models["hosted"] = hosted
        data["models"] = models
        return data

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

    # Every piece of state lives under data_dir, so two instances never share files.
    @property
    def db_path(self) -> Path:
        return self.data_dir / "confidante.db"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


class SettingsError(Exception):
    """Invalid configuration, described in one line that names the bad key."""


def load_settings(**overrides: Any) -> Settings:
    """Build the settings tree, turning validation errors into one readable line."""
    try:
        _refuse_unknown_toml_keys()
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
    except SettingsError:
        raise
    except (ValueError, OSError) as exc:  # malformed TOML, unreadable file
        raise SettingsError(f"configuration could not be read: {exc}") from None
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings


def _refuse_unknown_toml_keys() -> None:
    """A misspelt key in confidante.toml must not be silently ignored."""
    path = Path(os.environ.get("CONFIDANTE_CONFIG", "confidante.toml"))
    if not path.is_file():
        return
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    unknown = _unknown_keys(Settings, data, "")
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} in {path}")


def _unknown_keys(model: type[BaseModel], data: dict[str, Any], prefix: str) -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            found.append(prefix + key)
            continue
        annotation = field.annotation
        if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += _unknown_keys(annotation, value, f"{prefix}{key}.")
    return found


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(root)"
    env = "CONFIDANTE_" + "__".join(str(part) for part in first["loc"]).upper()
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid setting {key} ({env}): {first['msg']}{more}"
