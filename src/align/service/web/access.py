"""Who is asking: the API key from the header or the planning room's sign-in cookie, its owner,
and its role (``ALIGN_KEY_ROLES``).

The cookie holds the key itself (HttpOnly, SameSite=Strict) and is checked by the service's own
:func:`align.service.deps.owner_of`, exactly as the ``X-API-Key`` header. A request that changes
something with the cookie must also carry ``X-Align-Page: 1`` (the pages send it; another site
cannot without CORS), so a link elsewhere cannot act for a signed-in user.

``ALIGN_KEY_ROLES`` names people and roles: ``KEY=ROLE:NAME`` items, comma-separated, ROLE
``ops`` (edits plans and quotas, submits) or ``leader`` (approves or asks for changes). The keys
listed form one planning team: they share one owner, so a leader sees what ops submitted. Keys not
listed keep their own owner and act as ``ops``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request

from ..config import ServiceConfig, ServiceConfigError
from ..deps import owner_of

COOKIE = "align_key"
PAGE_HEADER = "X-Align-Page"
ROLES_VARIABLE = "ALIGN_KEY_ROLES"
ROLES = ("ops", "leader")
SAFE = ("GET", "HEAD", "OPTIONS")
Role = Literal["ops", "leader"]


@dataclass(frozen=True)
class Member:
    name: str
    role: Role


@dataclass(frozen=True)
class Access:
    """The roles of keys, read once from ``ALIGN_KEY_ROLES``."""

    members: Mapping[str, Member]

    @classmethod
    def from_env(cls, config: ServiceConfig, environ: Mapping[str, str] | None = None) -> Access:
        env = os.environ if environ is None else environ
        text = env.get(ROLES_VARIABLE, "").strip()
        members: dict[str, Member] = {}
        problems: list[str] = []
        for n, item in enumerate(p.strip() for p in text.split(",") if p.strip()):
            key, eq, rest = item.partition("=")
            role, _, name = rest.partition(":")
            where = f"{ROLES_VARIABLE} item {n + 1}"
            if not eq or not key.strip():
                problems.append(f"{where}: expected KEY=ROLE:NAME, e.g. k1=ops:Ana (got {item!r})")
                continue
            if role.strip() not in ROLES:
                problems.append(f"{where}: role must be ops or leader (got {role.strip()!r})")
                continue
            if key.strip() not in config.api_keys:
                problems.append(f"{where}: the key is not among ALIGN_API_KEYS; add it there")
                continue
            members[key.strip()] = Member(name.strip() or role.strip(), role.strip())  # type: ignore[arg-type]
        if problems:
            raise ServiceConfigError(problems)
        return cls(members)

    @property
    def team_owner(self) -> str:
        """The owner shared by every key of ``ALIGN_KEY_ROLES``."""
        return hashlib.sha256(b"team:" + ",".join(sorted(self.members)).encode()).hexdigest()[:32]


def key_of(request: Request) -> tuple[str | None, bool]:
    """The API key of a request and whether it came from the sign-in cookie."""
    header = request.headers.get("X-API-Key")
    if header:
        return header, False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def owner(request: Request) -> str:
    """The owner of a request (replaces the service's ``owner_of`` dependency): the key comes
    from the header or the cookie and is checked by ``owner_of`` itself."""

    key, from_cookie = key_of(request)
    if from_cookie and request.method not in SAFE and request.headers.get(PAGE_HEADER) != "1":
        raise HTTPException(
            403,
            f"a change signed in by cookie must come from the planning room (header {PAGE_HEADER}"
            ": 1); scripts send their key in X-API-Key",
        )
    digest = owner_of(request, key)
    access: Access = request.app.state.access
    if key is not None and key in access.members:
        return access.team_owner
    return digest


@dataclass(frozen=True)
class Caller:
    owner: str
    name: str
    role: Role
    roles_configured: bool

    def require(self, role: Role, action: str) -> None:
        """403 unless the caller has ``role`` (every caller has every role without roles)."""
        if self.roles_configured and self.role != role:
            raise HTTPException(
                403,
                f"{action} needs the {role} role; {self.name} is {self.role} ({ROLES_VARIABLE})",
            )


def caller(request: Request, who: Annotated[str, Depends(owner)]) -> Caller:
    """The owner, name and role of a request."""
    access: Access = request.app.state.access
    key, _ = key_of(request)
    member = access.members.get(key or "")
    if member is not None:
        return Caller(who, member.name, member.role, True)
    name = f"key {hashlib.sha256((key or '').encode()).hexdigest()[:8]}" if key else "anonymous"
    return Caller(who, name, "ops", bool(access.members))


CallerDep = Annotated[Caller, Depends(caller)]
