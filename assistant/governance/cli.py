"""`confidante users|groups|audit ...`: account administration and the compliance commands.

Passwords are read from a prompt (hidden) or from stdin with `--password-stdin`, never from an
argument (arguments are visible in `ps`). `audit verify` exits 1 and names the first bad record
when the chain is broken. Commands build only what they need: no models, no Chainlit.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from assistant.governance.accounts import AccountError, Accounts, UserPublic
from assistant.governance.audit import AuditTrail
from assistant.governance.budgets import Budgets
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import LOCAL_OPERATOR


class _Context:
    """The governance settings and data directory, opened lazily once per command."""

    def __init__(self, settings: GovernanceSettings, data_dir: Path) -> None:
        self.settings, self.data_dir = settings, data_dir
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = open_database(self.settings, self.data_dir)
        return self._engine

    def accounts(self) -> Accounts:
        return Accounts(self.engine, self.settings.passwords)

    def audit(self) -> AuditTrail:
        return AuditTrail(self.engine, self.settings.audit)

    def budgets(self) -> Budgets:
        return Budgets(self.engine, self.settings.budgets)


def _ctx() -> _Context:
    click_ctx = click.get_current_context()
    root = click_ctx.find_root()
    cached = root.meta.get("confidante.governance")
    if cached is None:
        settings = (root.obj or {}).get("settings") if isinstance(root.obj, dict) else None
        if settings is None:
            from assistant.settings import SettingsError, load_settings

            try:
                settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        cached = _Context(settings.governance, settings.data_dir)
        root.meta["confidante.governance"] = cached
    return cached


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to prompt on: pass --password-stdin and pipe the password in")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user_json(user: UserPublic) -> dict[str, Any]:
    return user.model_dump(mode="json")


# --- users ---------------------------------------------------------------------------------------


@click.group("users")
def users() -> None:
    """Manage accounts."""


@users.command("add")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
@click.option("--group", "groups", multiple=True, help="Add to a group (created if missing). Repeatable.")
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
@click.option("--no-password", is_flag=True, help="An account that signs in only through SSO.")
def users_add(
    username: str,
    admin: bool,
    groups: tuple[str, ...],
    display_name: str | None,
    password_stdin: bool,
    no_password: bool,
) -> None:
    """Create an account."""
    password = None if no_password else _read_password(password_stdin)
    try:
        user = _ctx().accounts().add_user(
            username=username, password=password, display_name=display_name,
            role="admin" if admin else "user", groups=groups,
        )  # fmt: skip
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"created {user.role} {user.username}" + (f" in {', '.join(user.groups)}" if user.groups else "")
    )


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    """List accounts."""
    found = _ctx().accounts().list_users()
    if as_json:
        click.echo(json.dumps([_user_json(user) for user in found], indent=2))
        return
    for user in found:
        state = "disabled" if user.disabled else "active"
        click.echo(f"{user.username}\t{user.role}\t{state}\t{','.join(user.groups) or '-'}")


def _set_disabled(username: str, disabled: bool) -> None:
    try:
        user = _ctx().accounts().set_disabled(username=username, disabled=disabled)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.username} {'disabled' if user.disabled else 'enabled'}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Stop an account from signing in (its open sessions are refused too)."""
    _set_disabled(username, True)


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    _set_disabled(username, False)


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
def users_set_password(username: str, password_stdin: bool) -> None:
    try:
        _ctx().accounts().set_password(username=username, password=_read_password(password_stdin))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} changed")


@users.command("set-budget")
@click.argument("username")
@click.option("--daily-tokens", type=click.IntRange(min=0), default=None)
@click.option("--daily-cost", type=click.FloatRange(min=0), default=None, help="USD per UTC day.")
@click.option("--clear", is_flag=True, help="Back to the defaults from settings.")
def users_set_budget(username: str, daily_tokens: int | None, daily_cost: float | None, clear: bool) -> None:
    """Override a user's daily budget."""
    ctx = _ctx()
    user = ctx.accounts().get_user(username=username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    budgets = ctx.budgets()
    if clear:
        limits = budgets.clear_override(user_id=user.username)
    else:
        if daily_tokens is None and daily_cost is None:
            raise click.UsageError("give --daily-tokens and/or --daily-cost, or --clear")
        limits = budgets.set_override(
            user_id=user.username,
            daily_tokens=daily_tokens,
            daily_cost_usd=daily_cost,
            set_by=LOCAL_OPERATOR.user_id,
        )
    click.echo(f"{user.username}: {limits.daily_tokens:,} tokens and ${limits.daily_cost_usd:.2f} per day")


# --- groups --------------------------------------------------------------------------------------


@click.group("groups")
def groups() -> None:
    """Manage groups (used by document access control)."""


@groups.command("add")
@click.argument("name")
@click.option("--description", default=None)
def groups_add(name: str, description: str | None) -> None:
    try:
        group = _ctx().accounts().add_group(name=name, description=description)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created group {group.name}")


@groups.command("list")
@click.option("--json", "as_json", is_flag=True)
def groups_list(as_json: bool) -> None:
    found = _ctx().accounts().list_groups()
    if as_json:
        click.echo(json.dumps([group.model_dump(mode="json") for group in found], indent=2))
        return
    for group in found:
        click.echo(f"{group.name}\t{','.join(group.members) or '-'}")


@groups.command("add-member")
@click.argument("group")
@click.argument("username")
def groups_add_member(group: str, username: str) -> None:
    try:
        _ctx().accounts().add_member(group=group, username=username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} added to {group}")


@groups.command("remove-member")
@click.argument("group")
@click.argument("username")
def groups_remove_member(group: str, username: str) -> None:
    try:
        _ctx().accounts().remove_member(group=group, username=username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} removed from {group}")


# --- audit ---------------------------------------------------------------------------------------


@click.group("audit")
def audit() -> None:
    """Verify, export and apply retention to the audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exit 1 naming the first bad record."""
    result = _ctx().audit().verify()
    if not result.ok:
        click.echo(result.describe(), err=True)
        sys.exit(1)
    click.echo(result.describe())


def _parse_since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z") from None


@audit.command("export")
@click.option("--since", callback=_parse_since, default=None, help="ISO 8601 date or time (UTC if no zone).")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--include-raw", is_flag=True, help="Also export raw text still within retention.")
def audit_export(since: datetime | None, fmt: str, output: Path | None, include_raw: bool) -> None:
    """Export records as JSON lines (to stdout or --output)."""
    lines = _ctx().audit().export(since, "jsonl", include_raw=include_raw)
    if output is None:
        for line in lines:
            click.echo(line)
        return
    with output.open("w", encoding="utf-8") as handle:
        count = sum(1 for line in lines if handle.write(line + "\n"))
    click.echo(f"exported {count} records to {output}")


@audit.command("purge")
def audit_purge() -> None:
    """Delete raw text past its retention (hashes and the chain stay)."""
    purged = _ctx().audit().purge()
    click.echo(f"purged raw text of {purged} records")


COMMANDS = (users, groups, audit)
