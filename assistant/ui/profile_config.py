"""A session's config for a named chat profile, without re-entering the running event loop.

Chainlit 2.12 builds every websocket session in its `connect` handler, and when the browser names a
chat profile (the frontend always does once profiles exist) `WebsocketSession.get_config()` calls
`asyncio.get_event_loop().run_until_complete(set_chat_profiles(...))` on the loop that is already
running, which only works through `nest_asyncio`. Under a burst of connections each nested run
processes another connection's handler, which nests again: 50 users opening the app at once got
`RecursionError` and about half of the websockets refused (issue 17; `tests/test_connection_burst.py`).

Our profiles are static (one profile, for its welcome text, with no config overrides), so the
profile lookup needs no coroutine at all: `install()` replaces `get_config` with a lookup in the
profiles given here. It never changes what a session gets: a profile with `config_overrides` still
gets them, an unknown or absent profile gets the global config, exactly as Chainlit decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

ProfileSource = Callable[[], Sequence[Any]]


def config_for(profile_name: str | None, profiles: Sequence[Any], global_config: Any) -> Any:
    """The config a session with `profile_name` gets: the global one, with that profile's overrides."""
    if not profile_name:
        return global_config
    profile = next((p for p in profiles if getattr(p, "name", None) == profile_name), None)
    overrides = getattr(profile, "config_overrides", None) if profile is not None else None
    return global_config.with_overrides(overrides) if overrides else global_config


def install(profiles: ProfileSource) -> None:
    """Make every new websocket session resolve its profile config synchronously from `profiles`."""
    from chainlit.config import config as global_config
    from chainlit.session import WebsocketSession

    def get_config(session: Any) -> Any:
        cached = session.__dict__.get("config")
        if cached:
            return cached
        return config_for(session.chat_profile, profiles(), global_config)

    WebsocketSession.get_config = get_config  # type: ignore[method-assign,assignment]
