"""Settings for output hygiene, HTTP hardening and log scrubbing (the `security` section)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HygieneSettings(BaseModel):
    # Hosts an answer may link to ("docs.example.com", or "*.example.com" for its subdomains).
    # Empty: no external host at all; links to the app's own paths ("/...") always pass.
    allowed_link_hosts: list[str] = Field(default_factory=list)
    # Characters a streamed construct may be held back before it is released neutralized.
    max_hold_chars: int = Field(default=512, ge=32, le=8192)
    # A query value, path segment or subdomain label at least this long that looks like encoded
    # data (base64, hex) marks a URL as a smuggling channel even on an allowed host.
    smuggled_value_min_chars: int = Field(default=24, ge=8)


class HeaderSettings(BaseModel):
    # Extra sources the Content-Security-Policy allows for stylesheets and fonts (e.g. a corporate
    # font CDN). Empty by default: the page loads nothing from outside the app.
    extra_style_sources: list[str] = Field(default_factory=list)
    extra_font_sources: list[str] = Field(default_factory=list)
    # HSTS only makes sense behind TLS; off unless the app is served over https.
    strict_transport_security: bool = False


class SecuritySettings(BaseModel):
    hygiene: HygieneSettings = HygieneSettings()
    headers: HeaderSettings = HeaderSettings()
    # Scrub personal data from log records with the sensitivity gate (regex path always runs).
    scrub_logs_with_gate: bool = False
