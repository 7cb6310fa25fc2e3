"""`confidante keys create|list|expire|revoke`: API keys for other internal apps.

The full key is printed once, by `create`, and never again: only its hash is stored. Listing
shows the public prefix, owner, scopes, limits and status. Changing a key's expiry is an
`api_key` record in the audit trail, as from the admin page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from assistant.governance.api_keys import SCOPES, ApiKeyError, ApiKeyPublic, ApiKeys
from assistant.governance.audit import AuditEvent
from assistant.governance.cli import _ctx
from assistant.identity import LOCAL_OPERATOR


def _keys() -> ApiKeys:
    context = _ctx()
    return ApiKeys(context.engine, context.accounts())


def _line(key: ApiKeyPublic) -> str:
    scopes = ",".join(key.scopes)
    budget = f"{key.daily_tokens} tokens/day" if key.daily_tokens is not None else "owner's budget"
    expires = key.expires_at.strftime("%Y-%m-%d") if key.expires_at else "never"
    return (
        f"{key.prefix}  {key.status:<8} owner={key.owner} name={key.name!r} scopes={scopes} "
        f"{key.rate_per_minute}/min {budget} expires={expires}"
    )


@click.group("keys")
def keys() -> None:
    """Manage API keys for the OpenAI-compatible API (/v1)."""


@keys.command("create")
@click.argument("owner")
@click.option("--name", default="", help="What the key is for (shown in the console and audit).")
@click.option(
    "--scope", "scopes", multiple=True, type=click.Choice(SCOPES), default=("chat",), show_default=True
)
@click.option("--expires-days", type=click.IntRange(min=1), default=None, help="Expire after N days.")
@click.option("--rate", type=click.IntRange(min=1), default=60, show_default=True, help="Requests a minute.")
@click.option("--daily-tokens", type=click.IntRange(min=0), default=None, help="The key's own daily budget.")
def create(
    owner: str,
    name: str,
    scopes: tuple[str, ...],
    expires_days: int | None,
    rate: int,
    daily_tokens: int | None,
) -> None:
    """Create a key acting as account OWNER (a person or a service account); prints it once."""
    try:
        key, secret = _keys().create(
            owner=owner, name=name, created_by=LOCAL_OPERATOR.user_id, scopes=scopes,
            expires_in_days=expires_days, rate_per_minute=rate, daily_tokens=daily_tokens,
        )  # fmt: skip
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_line(key))
    click.echo("Key (shown once; store it as the app's OPENAI_API_KEY):")
    click.echo(secret)


@keys.command("list")
@click.option("--owner", default=None)
@click.option("--json", "as_json", is_flag=True)
def list_keys(owner: str | None, as_json: bool) -> None:
    """List keys (never their secrets)."""
    found = _keys().list(owner=owner)
    if as_json:
        click.echo(json.dumps([k.model_dump(mode="json") | {"status": k.status} for k in found]))
        return
    for key in found:
        click.echo(_line(key))
    if not found:
        click.echo("no API keys")


@keys.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key with this PREFIX (the part after `cfd_`); it stops working at once."""
    try:
        click.echo(_line(_keys().revoke(prefix=prefix)))
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None


@keys.command("expire")
@click.argument("prefix")
@click.option("--on", type=click.DateTime(formats=["%Y-%m-%d"]), help="Stop working at 00:00 UTC that day.")
@click.option("--never", is_flag=True, help="Clear the expiry.")
def expire(prefix: str, on: datetime | None, never: bool) -> None:
    """Set (--on YYYY-MM-DD) or clear (--never) when the key with this PREFIX stops working."""
    if (on is not None) == never:
        raise click.UsageError("give exactly one of --on YYYY-MM-DD and --never")
    expires = on.replace(tzinfo=UTC) if on is not None else None
    try:
        key = _keys().set_expiry(prefix=prefix, expires_at=expires)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    when = f"{key.expires_at:%Y-%m-%dT%H:%MZ}" if key.expires_at else "never"
    detail = f"key={key.prefix} expiry={when}"
    _ctx().audit().record(AuditEvent(kind="api_key", user_id=LOCAL_OPERATOR.user_id, detail=detail))
    click.echo(_line(key))
