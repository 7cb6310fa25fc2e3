"""What Chainlit's sign-in callbacks call: password, OAuth/OIDC and trusted-header sign-in.

Each returns a `chainlit.User` (identifier = account name, metadata = role and groups) or None.
Only accounts in our database sign in: OAuth identities are mapped onto an existing account (or
create one when `governance.sso.create_users_on_first_sign_in` allows), and a proxy's identity
header is believed only when the setting names the header and the request comes from a proxy
listed in `governance.sso.trusted_proxies`. Disabled accounts never sign in.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from chainlit.user import User as ChainlitUser

from assistant.governance.accounts import AccountError, Accounts, normalize_username
from assistant.governance.requester import current_client_host
from assistant.governance.settings import SingleSignOnSettings
from assistant.identity import Principal

log = logging.getLogger(__name__)


def chainlit_user(principal: Principal, *, provider: str = "password") -> ChainlitUser:
    return ChainlitUser(
        identifier=principal.user_id,
        display_name=principal.display_name,
        metadata={"role": principal.role, "groups": sorted(principal.groups), "provider": provider},
    )


def password_sign_in(accounts: Accounts, username: str, password: str) -> ChainlitUser | None:
    """For `@cl.password_auth_callback`."""
    principal = accounts.authenticate(username, password)
    return chainlit_user(principal) if principal else None


def oauth_sign_in(
    accounts: Accounts,
    sso: SingleSignOnSettings,
    provider_id: str,
    raw_user_data: Mapping[str, Any],
    default_user: ChainlitUser,
) -> ChainlitUser | None:
    """For `@cl.oauth_callback`: map the provider's identity (its e-mail or login) onto an account."""
    try:
        username = normalize_username(default_user.identifier)
    except AccountError:
        log.warning("refused OAuth sign-in from %s: unusable identifier", provider_id)
        return None
    user = accounts.get_user(username=username)
    if user is None:
        if not sso.create_users_on_first_sign_in:
            log.info("refused OAuth sign-in of %r: no such account and sign-up is off", username)
            return None
        display = raw_user_data.get("name") or default_user.display_name
        user = accounts.add_user(
            username=username, display_name=display, groups=sso.default_groups, auth_provider=provider_id
        )
    if user.disabled:
        return None
    accounts.record_sign_in(username=username)
    return chainlit_user(user.principal(), provider=provider_id)


def _trusted(host: str | None, proxies: list[str]) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def header_sign_in(
    accounts: Accounts,
    sso: SingleSignOnSettings,
    headers: Mapping[str, str],
    client_host: str | None = None,
) -> ChainlitUser | None:
    """For `@cl.header_auth_callback`, behind an SSO proxy that sets the identity header.

    The client address comes from `RequesterMiddleware` unless given; the header is ignored unless
    the request came straight from a trusted proxy (which must strip the header from clients).
    """
    if not sso.trusted_header or not sso.trusted_proxies:
        return None
    if not _trusted(client_host or current_client_host(), sso.trusted_proxies):
        log.warning("ignored identity header from an untrusted address")
        return None
    value = next((v for k, v in headers.items() if k.lower() == sso.trusted_header.lower()), None)
    if not value:
        return None
    principal = accounts.principal(username=value)
    if principal is None:
        if not sso.create_users_on_first_sign_in:
            return None
        try:
            principal = accounts.add_user(
                username=value, groups=sso.default_groups, auth_provider="header"
            ).principal()
        except AccountError:
            return None
    accounts.record_sign_in(username=principal.user_id)
    return chainlit_user(principal, provider="header")
