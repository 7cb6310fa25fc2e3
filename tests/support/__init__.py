"""Loopback test infrastructure shared by the whole suite.

`servers` runs a real OpenAI-compatible `llama_cpp.server` on a free loopback port; `proxy` puts a
fault-injecting, request-recording HTTP proxy in front of it; `fixtures` exposes both as pytest
fixtures (register with `pytest_plugins = ["tests.support.fixtures"]` in `tests/conftest.py`).
Nothing here ever listens on or connects to a non-loopback address.
"""
