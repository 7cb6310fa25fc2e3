"""Accounts: users with argon2id password hashes, roles and groups, stored in the database.

`authenticate` is the one place passwords are checked. It takes the same time for unknown users
as for wrong passwords (a dummy hash is verified), refuses disabled accounts and rehashes a
password when the argon2 parameters in settings change. Nothing here ever logs or returns a
password or a hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.governance.settings import PasswordHashSettings
from assistant.governance.tables import Group, Membership, User, utcnow
from assistant.identity import Principal

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,149}$")
GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9._:@-]{0,149}$")
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A request the account store refuses; the message is safe to show an admin."""


class UserPublic(BaseModel):
    """A user as the rest of the application sees it: no hash."""

    model_config = ConfigDict(frozen=True)

    id: str
    username: str
    display_name: str | None
    role: Literal["user", "admin"]
    disabled: bool
    auth_provider: str
    groups: tuple[str, ...]
    created_at: datetime
    last_login_at: datetime | None

    def principal(self) -> Principal:
        return Principal(
            user_id=self.username,
            groups=frozenset(self.groups),
            role=self.role,
            display_name=self.display_name,
        )


class GroupPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None
    members: tuple[str, ...]


def normalize_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountError(f"invalid username {username!r}: use letters, digits and . _ @ + - (max 150)")
    return name


def _normalize_group(name: str) -> str:
    group = name.strip().lower()
    if not GROUP_NAME.fullmatch(group):
        raise AccountError(f"invalid group name {name!r}")
    return group


class Accounts:
    """CRUD on users and groups, and password sign-in."""

    def __init__(self, engine: Engine, hashing: PasswordHashSettings | None = None) -> None:
        hashing = hashing or PasswordHashSettings()
        self._engine = engine
        self._hasher = PasswordHasher(
            time_cost=hashing.time_cost, memory_cost=hashing.memory_cost_kib, parallelism=hashing.parallelism
        )
        # Verified when the user is unknown, so that case costs as much as a wrong password.
        self._dummy_hash = self._hasher.hash("confidante-dummy-password")

    # --- sign-in ------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The signed-in principal, or None for an unknown user, a wrong password or a disabled account."""
        try:
            name = normalize_username(username)
        except AccountError:
            name = None
        with Session(self._engine) as session:
            user = session.exec(select(User).where(User.username == name)).first() if name else None
            stored = user.password_hash if user and user.password_hash else self._dummy_hash
            if not self._verify(stored, password) or user is None or user.password_hash is None:
                return None
            if user.disabled:
                return None
            if self._hasher.check_needs_rehash(stored):
                user.password_hash = self._hasher.hash(password)
            user.last_login_at = utcnow()
            session.add(user)
            session.commit()
            return self._public(session, user).principal()

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def record_sign_in(self, *, username: str) -> None:
        with Session(self._engine) as session:
            user = self._require(session, username)
            user.last_login_at = utcnow()
            session.add(user)
            session.commit()

    # --- users ----------------------------------------------------------------------------------

    def add_user(
        self,
        *,
        username: str,
        password: str | None = None,
        display_name: str | None = None,
        role: Literal["user", "admin"] = "user",
        groups: Iterable[str] = (),
        auth_provider: str = "password",
    ) -> UserPublic:
        name = normalize_username(username)
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
        with Session(self._engine) as session:
            if session.exec(select(User).where(User.username == name)).first():
                raise AccountError(f"user {name!r} already exists")
            user = User(
                username=name,
                display_name=display_name,
                role=role,
                password_hash=self._hasher.hash(password) if password is not None else None,
                auth_provider=auth_provider,
            )
            session.add(user)
            session.flush()
            for group in groups:
                self._join(session, user, _normalize_group(group), create=True)
            session.commit()
            return self._public(session, user)

    def get_user(self, *, username: str) -> UserPublic | None:
        try:
            name = normalize_username(username)
        except AccountError:
            return None
        with Session(self._engine) as session:
            user = session.exec(select(User).where(User.username == name)).first()
            return self._public(session, user) if user else None

    def list_users(self) -> list[UserPublic]:
        with Session(self._engine) as session:
            users = session.exec(select(User).order_by(col(User.username))).all()
            return [self._public(session, user) for user in users]

    def principal(self, *, username: str) -> Principal | None:
        """The current principal of an enabled account (roles and groups fresh from the database)."""
        user = self.get_user(username=username)
        return user.principal() if user and not user.disabled else None

    def set_disabled(self, *, username: str, disabled: bool) -> UserPublic:
        return self._update(username, disabled=disabled)

    def set_role(self, *, username: str, role: Literal["user", "admin"]) -> UserPublic:
        return self._update(username, role=role)

    def set_password(self, *, username: str, password: str) -> UserPublic:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
        return self._update(username, password_hash=self._hasher.hash(password))

    def _update(self, username: str, **changes: object) -> UserPublic:
        with Session(self._engine) as session:
            user = self._require(session, username)
            for key, value in changes.items():
                setattr(user, key, value)
            session.add(user)
            session.commit()
            return self._public(session, user)

    # --- groups ---------------------------------------------------------------------------------

    def add_group(self, *, name: str, description: str | None = None) -> GroupPublic:
        group_name = _normalize_group(name)
        with Session(self._engine) as session:
            if session.exec(select(Group).where(Group.name == group_name)).first():
                raise AccountError(f"group {group_name!r} already exists")
            session.add(Group(name=group_name, description=description))
            session.commit()
        return GroupPublic(name=group_name, description=description, members=())

    def list_groups(self) -> list[GroupPublic]:
        with Session(self._engine) as session:
            groups = session.exec(select(Group).order_by(col(Group.name))).all()
            return [self._group_public(session, group) for group in groups]

    def add_member(self, *, group: str, username: str) -> GroupPublic:
        with Session(self._engine) as session:
            user = self._require(session, username)
            row = self._join(session, user, _normalize_group(group), create=False)
            session.commit()
            return self._group_public(session, row)

    def remove_member(self, *, group: str, username: str) -> GroupPublic:
        with Session(self._engine) as session:
            user = self._require(session, username)
            row = self._require_group(session, _normalize_group(group))
            link = session.get(Membership, (user.id, row.id))
            if link is not None:
                session.delete(link)
            session.commit()
            return self._group_public(session, row)

    # --- internals ------------------------------------------------------------------------------

    def _join(self, session: Session, user: User, group_name: str, *, create: bool) -> Group:
        group = session.exec(select(Group).where(Group.name == group_name)).first()
        if group is None:
            if not create:
                raise AccountError(f"no group {group_name!r}")
            group = Group(name=group_name)
            session.add(group)
            session.flush()
        assert group.id is not None
        if session.get(Membership, (user.id, group.id)) is None:
            session.add(Membership(user_id=user.id, group_id=group.id))
        return group

    @staticmethod
    def _require(session: Session, username: str) -> User:
        user = session.exec(select(User).where(User.username == normalize_username(username))).first()
        if user is None:
            raise AccountError(f"no user {username!r}")
        return user

    @staticmethod
    def _require_group(session: Session, name: str) -> Group:
        group = session.exec(select(Group).where(Group.name == name)).first()
        if group is None:
            raise AccountError(f"no group {name!r}")
        return group

    @staticmethod
    def _public(session: Session, user: User) -> UserPublic:
        groups = session.exec(
            select(Group.name)
            .join(Membership, col(Membership.group_id) == col(Group.id))
            .where(Membership.user_id == user.id)
            .order_by(col(Group.name))
        ).all()
        return UserPublic(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role="admin" if user.role == "admin" else "user",
            disabled=user.disabled,
            auth_provider=user.auth_provider,
            groups=tuple(groups),
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )

    @staticmethod
    def _group_public(session: Session, group: Group) -> GroupPublic:
        members = session.exec(
            select(User.username)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(Membership.group_id == group.id)
            .order_by(col(User.username))
        ).all()
        return GroupPublic(name=group.name, description=group.description, members=tuple(members))
