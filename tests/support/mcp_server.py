"""A loopback MCP server for tests: `python -m tests.support.mcp_server` (stdio, the default) or
`--http PORT` (streamable HTTP on 127.0.0.1). Built with the SDK's own FastMCP, so the client is
tested against a real server, not a fake of the protocol.

Tools: `add` (integers), `echo` (text, an optional flag), `big` (an answer larger than any cap),
`fail` (raises), `whoami` (which environment variable the server was given), `ssn_record` (an
answer carrying a regulated canary), `pid` and `crash` (for session reuse and recovery).
"""

from __future__ import annotations

import argparse
import os

from mcp.server.fastmcp import FastMCP

SSN_CANARY = "078-05-1120"


def build(port: int = 8000) -> FastMCP:
    server = FastMCP("confidante-test", host="127.0.0.1", port=port, log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo(text: str, shout: bool | None = None) -> str:
        """Repeat the text back."""
        return text.upper() if shout else text

    @server.tool()
    def big() -> str:
        """An answer of 200,000 characters."""
        return "x" * 200_000

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise RuntimeError("the test tool failed on purpose")

    @server.tool()
    def whoami() -> str:
        """The value of CONFIDANTE_TEST_MCP_TOKEN as the server sees it ('unset' when absent)."""
        return os.environ.get("CONFIDANTE_TEST_MCP_TOKEN", "unset")

    @server.tool()
    def ssn_record(employee: str) -> str:
        """A record that holds a social security number."""
        return f"{employee}: SSN {SSN_CANARY}"

    @server.tool()
    def pid() -> int:
        """The server's process id (tells a kept session from a fresh one)."""
        return os.getpid()

    @server.tool()
    def crash() -> str:
        """Ends the server process at once, mid-call."""
        os._exit(1)

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None, help="serve streamable HTTP on this port")
    options = parser.parse_args()
    if options.http is None:
        build().run("stdio")
    else:
        build(options.http).run("streamable-http")


if __name__ == "__main__":
    main()
