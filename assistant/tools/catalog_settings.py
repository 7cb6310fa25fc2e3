"""Where the admin's tool catalog lives: the `tool_catalog` section of the one settings tree.

Only a path and a switch: what a catalog may contain is checked in `assistant.tools.catalog`,
and secrets never appear here or in the catalog (they come from environment variables).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator


class ToolCatalogSettings(BaseModel):
    # A TOML file of [[http_tool]] and [[mcp_server]] entries; None: built-in tools only.
    path: Path | None = None
    # False: an MCP server that cannot be listed at start-up stops start-up instead of being
    # left out (with a warning) while the rest of the tools are offered.
    skip_unreachable_mcp_servers: bool = True
    # The time zone `current_date` answers in when the model names none.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris)") from None
        return name
