"""Who may do what on the dashboard: roles, the permissions each grants, and the check.

Every write action asks `require(user, PERMISSION)` right before it writes, so hiding or
disabling a button is a courtesy, never the protection. A new write action (approvals, holds,
targets) adds its permission here and to the roles that may use it; nothing else changes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

VIEW = "view"
RETRY_DELIVERY = "retry_delivery"
HOLD_ORDER = "hold_order"
APPROVE_REPLENISHMENT = "approve_replenishment"
SET_TARGETS = "set_targets"

PERMISSIONS: tuple[str, ...] = (
    VIEW,
    RETRY_DELIVERY,
    HOLD_ORDER,
    APPROVE_REPLENISHMENT,
    SET_TARGETS,
)

# viewer: reads every page. operator: runs the floor (retries deliveries, holds orders).
# planner: decides stock (approves replenishment, sets targets). manager: heads operations
# (sets the KPI targets alerts are judged against). admin: all of it.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({VIEW}),
    "operator": frozenset({VIEW, RETRY_DELIVERY, HOLD_ORDER}),
    "planner": frozenset({VIEW, APPROVE_REPLENISHMENT, SET_TARGETS}),
    "manager": frozenset({VIEW, SET_TARGETS}),
    "admin": frozenset(PERMISSIONS),
}
ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)
LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class User:
    """A signed-in user, with the role the users file gives them now."""

    username: str
    display_name: str
    role: str


class PermissionDenied(PermissionError):
    """The user is not signed in, or their role does not grant the permission."""


def can(user: User | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return user is not None and permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def roles_with(permission: str) -> tuple[str, ...]:
    """The roles that grant `permission`, for messages such as "sign in as an operator"."""
    return tuple(role for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


def require(user: User | None, permission: str) -> User:
    """The user, if they may do `permission`; otherwise PermissionDenied saying who may."""
    if can(user, permission):
        assert user is not None
        return user
    allowed = " or ".join(roles_with(permission))
    if user is None:
        raise PermissionDenied(f"sign in as {allowed} to do this ({permission})")
    raise PermissionDenied(
        f"{user.username} is a {user.role}; only {allowed} may do this ({permission})"
    )


def is_loopback(address: str | None) -> bool:
    """True when a server bound to `address` is reachable from this machine only.

    Streamlit listens on every interface when no address is set, so unset is not loopback.
    """
    if not address:
        return False
    if address.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False
