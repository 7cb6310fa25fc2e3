"""Who is asking: the identity every access decision is made from.

Built from the signed-in account (governance) and passed down to retrieval (ACL filters inside
the query), the audit trail and budgets. It carries no secrets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["user", "admin"]


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    groups: frozenset[str] = frozenset()
    role: Role = "user"
    display_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The identity of the command line and of tests that do not sign in.
LOCAL_OPERATOR = Principal(user_id="local", role="admin", display_name="Local operator")
