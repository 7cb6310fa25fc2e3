"""Admin-declared tools: one TOML file of HTTP tools and MCP servers, read and checked at start-up.

```toml
[[http_tool]]
name = "exchange_rate"
description = "Today's exchange rate for a currency against the euro."
url = "https://rates.example.com/v1/rates/{currency}"
groups = ["finance"]
[http_tool.secret_headers.Authorization]
env = "RATES_API_TOKEN"      # the value is read from this environment variable
prefix = "Bearer "
[http_tool.arguments]        # JSON schema, written as TOML
type = "object"
required = ["currency"]
properties.currency = { type = "string", pattern = "^[A-Z]{3}$" }

[[mcp_server]]
name = "tickets"
transport = "stdio"          # or "streamable_http" with url = "https://…/mcp"
command = "/opt/mcp/tickets-server"
```

Secrets are never written in the file: a header that looks like a credential must come from
`secret_headers` (an environment variable's name), and a URL may not carry a user or password.
A malformed file gives one `CatalogError` line naming the file, the line and the field; never a
traceback, and never a half-loaded catalog. An argument placeholder may not sit in a URL's host.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from assistant.tools.catalog_schema import SchemaError, model_from_schema
from routing.tiers import Tier

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
# Header names that carry credentials; their values must come from the environment.
_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|password|session", re.IGNORECASE)
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024


class CatalogError(ValueError):
    """The tool catalog file is unusable; the message names the file, line and field."""


class SecretHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    prefix: str = ""


class _Declaration(BaseModel):
    """What HTTP tools and MCP servers have in common: who may use them and how far to trust them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    groups: frozenset[str] = frozenset()
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # External tools default to public-tier turns only: an admin opts a tool into internal data.
    max_argument_tier: Tier = Tier.PUBLIC
    result_tier: Tier | None = None
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=256, le=10 * 1024 * 1024)
    headers: dict[str, str] = {}
    secret_headers: dict[str, SecretHeader] = {}

    @field_validator("max_argument_tier")
    @classmethod
    def _never_regulated(cls, tier: Tier) -> Tier:
        if tier == Tier.REGULATED:
            raise ValueError("an external tool never receives regulated data (use public or internal)")
        return tier

    @field_validator("headers")
    @classmethod
    def _no_literal_secrets(cls, headers: dict[str, str]) -> dict[str, str]:
        for header in headers:
            if _SECRET_HEADER.search(header):
                raise ValueError(
                    f"{header} looks like a credential: declare it in secret_headers with env = "
                    '"VARIABLE_NAME" so the value comes from the environment, not this file'
                )
        return headers


class HttpToolDeclaration(_Declaration):
    description: str = Field(min_length=1, max_length=1024)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    arguments: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    # None: derived from the method (GET reads; PUT and DELETE may be repeated safely).
    side_effects: bool | None = None
    idempotent: bool | None = None

    @field_validator("url")
    @classmethod
    def _safe_url(cls, url: str) -> str:
        return checked_url(url)

    @model_validator(mode="after")
    def _placeholders_are_required_arguments(self) -> HttpToolDeclaration:
        required = set(self.arguments.get("required") or [])
        for placeholder in url_placeholders(self.url):
            if placeholder not in required:
                raise ValueError(f"url placeholder {{{placeholder}}} must be a required argument")
        return self

    @property
    def reads_only(self) -> bool:
        return self.method == "GET"


class McpServerDeclaration(_Declaration):
    transport: Literal["stdio", "streamable_http"]
    command: str | None = None
    args: list[str] = []
    # Names of environment variables passed to a stdio server (the rest of ours is not).
    env_from: list[str] = []
    cwd: Path | None = None
    url: str | None = None
    # Only these of the server's tools (None: all it lists).
    tools: list[str] | None = None
    # None: every tool has side effects (annotations are only the server's hints); false: none has.
    side_effects: bool | None = None
    # "per_call": a fresh session (for stdio, a fresh process) per call; "kept": one shared session.
    session: Literal["per_call", "kept"] = "per_call"

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServerDeclaration:
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs command")
        if self.transport == "streamable_http":
            if not self.url:
                raise ValueError("a streamable_http server needs url")
            checked_url(self.url)
        return self


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    http_tool: list[HttpToolDeclaration] = []
    mcp_server: list[McpServerDeclaration] = []


def checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not carry a user or password (use secret_headers)")
    if "{" in parts.netloc:
        raise ValueError("argument placeholders may appear in the path and query, not the host")
    return url


def url_placeholders(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def resolve_headers(declaration: _Declaration, environ: dict[str, str] | None = None) -> dict[str, SecretStr]:
    """Plain headers and secret ones, the latter read from the environment now."""
    env = os.environ if environ is None else environ
    headers = {name: SecretStr(value) for name, value in declaration.headers.items()}
    for name, secret in declaration.secret_headers.items():
        value = env.get(secret.env)
        if not value:
            raise CatalogError(
                f"{declaration.name}: secret_headers.{name} needs the environment variable {secret.env}"
            )
        if not (secret.prefix + value).isascii() or "\n" in value or "\r" in value:
            # Refused here, once, rather than as an encoding error (naming no value) on every call.
            raise CatalogError(f"{declaration.name}: {secret.env} is not a valid header value")
        headers[name] = SecretStr(secret.prefix + value)
    return headers


def load_catalog(path: Path) -> CatalogFile:
    """The checked contents of a catalog file, or one `CatalogError` line saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the tool catalog ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from None
    try:
        catalog = CatalogFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{path}: {_describe(exc, text, data)}") from None
    _check_catalog(catalog, path, text)
    return catalog


def _check_catalog(catalog: CatalogFile, path: Path, text: str) -> None:
    seen: set[str] = set()
    for kind, entries in (("http_tool", catalog.http_tool), ("mcp_server", catalog.mcp_server)):
        for index, entry in enumerate(entries):
            where = f"{path}: line {_entry_line(text, kind, index)} ([[{kind}]] {entry.name!r})"
            if entry.name in seen:
                raise CatalogError(f"{where}: the name is used twice")
            seen.add(entry.name)
            if isinstance(entry, HttpToolDeclaration):
                try:
                    model_from_schema(entry.name, entry.arguments)
                except SchemaError as exc:
                    raise CatalogError(f"{where}: {exc}") from None


def _entry_line(text: str, kind: str, index: int) -> int:
    """The line of the index-th `[[kind]]` header (1-based), or 0 when it cannot be found."""
    header = re.compile(rf"^[ \t]*\[\[[ \t]*{kind}[ \t]*\]\]", re.MULTILINE)
    matches = list(header.finditer(text))
    return text.count("\n", 0, matches[index].start()) + 1 if index < len(matches) else 0


def _describe(exc: ValidationError, text: str, data: dict[str, Any]) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] in ("http_tool", "mcp_server") and loc[1].isdigit():
        kind, index = loc[0], int(loc[1])
        entries = data.get(kind) or []
        name = (
            entries[index].get("name", "?")
            if index < len(entries) and isinstance(entries[index], dict)
            else "?"
        )
        field = ".".join(loc[2:]) or "(the entry)"
        return f"line {_entry_line(text, kind, index)} ([[{kind}]] {name!r}) field {field}: {message}"
    return f"field {'.'.join(loc) or '(root)'}: {message}"
