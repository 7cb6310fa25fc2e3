"""Settings for the database, accounts, the audit trail, retention, budgets and telemetry."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class PasswordHashSettings(BaseModel):
    """argon2id parameters; changing them makes the next sign-in rehash the stored password."""

    time_cost: int = Field(default=3, ge=1)
    memory_cost_kib: int = Field(default=65536, ge=8)
    parallelism: int = Field(default=4, ge=1)


class SingleSignOnSettings(BaseModel):
    # OAuth/OIDC: create a database account on first sign-in (otherwise an admin must add it first).
    create_users_on_first_sign_in: bool = False
    # Groups given to accounts created on first sign-in.
    default_groups: list[str] = Field(default_factory=list)
    # Header auth behind an SSO proxy: trusted only when both the header and the proxy are named.
    trusted_header: str | None = None
    trusted_proxies: list[str] = Field(default_factory=list)


class AuditSettings(BaseModel):
    # Raw request/response text is kept this many days (0: never stored); hashes stay forever.
    raw_text_retention_days: int = Field(default=30, ge=0)
    # Regulated raw text is not stored at all unless this is set.
    store_regulated_raw_text: bool = False
    purge_interval_s: int = Field(default=3600, ge=10)


class BudgetSettings(BaseModel):
    """Per-user daily budgets (UTC days); an admin override per user replaces them."""

    daily_tokens: int = Field(default=500_000, ge=0)
    daily_cost_usd: float = Field(default=10.0, ge=0)


class TelemetrySettings(BaseModel):
    # OTLP/HTTP traces endpoint; the standard OTEL_EXPORTER_OTLP_ENDPOINT variable also enables it.
    otlp_endpoint: str | None = None
    service_name: str = "confidante"


class GovernanceSettings(BaseModel):
    # SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db); empty means a SQLite file in data_dir.
    database_url: str | None = None
    # Chat element files (Chainlit's attachments, source passages); None = `<data_dir>/files`.
    # App replicas must all name the same directory (a shared mount), or a file saved by one is
    # missing on the other.
    files_dir: Path | None = None
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    passwords: PasswordHashSettings = PasswordHashSettings()
    sso: SingleSignOnSettings = SingleSignOnSettings()
    audit: AuditSettings = AuditSettings()
    budgets: BudgetSettings = BudgetSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
