"""The dashboard's users file: who may sign in, with which role, and their bcrypt password hash.

One YAML file outside the repository's tracked files (`settings.users_file`, default
`data/users.yaml`, override with `OMS_USERS_FILE`). Its shape is the one streamlit-authenticator
reads (`credentials.usernames.<name>: {name, password, roles}` and a `cookie` block), so the
sign-in widget takes it as it is. Passwords are only ever written as bcrypt hashes; the cookie
key that signs the "stay signed in" cookie is random per file, never a constant of the code.

Plain functions of a path, no Streamlit: the CLI (`python3 -m pipelines users ...`) and the
dashboard both use them.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import yaml  # type: ignore[import-untyped]

from dashboards.lib.auth import ROLES

COOKIE_NAME = "oms_dashboard_session"
COOKIE_EXPIRY_DAYS = 1.0
MIN_PASSWORD_LENGTH = 8
# Names end up in the operational store and in log lines: keep them plain. Lower case only,
# because the sign-in widget lower-cases what is typed before it looks the name up.
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")

# For the demo only: documented in docs/dashboards.md, created by `python3 -m pipelines demo`
# when there is no users file yet. Anyone who reads the docs knows these passwords.
DEMO_USERS: dict[str, tuple[str, str]] = {
    "demo-viewer": ("viewer", "oms-demo-viewer"),
    "demo-operator": ("operator", "oms-demo-operator"),
    "demo-planner": ("planner", "oms-demo-planner"),
    "demo-manager": ("manager", "oms-demo-manager"),
    "demo-admin": ("admin", "oms-demo-admin"),
}


class UsersFileError(ValueError):
    """The users file or a requested change to it is not valid."""


@dataclass(frozen=True)
class Account:
    """One user of the dashboard as the users file holds it (the hash, never the password)."""

    username: str
    display_name: str
    role: str
    password_hash: str


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash at all
        return False


def is_bcrypt_hash(value: str) -> bool:
    return value.startswith(BCRYPT_PREFIXES) and len(value) == 60


def _empty_config() -> dict[str, Any]:
    return {
        "credentials": {"usernames": {}},
        "cookie": {
            "name": COOKIE_NAME,
            "key": secrets.token_urlsafe(32),
            "expiry_days": COOKIE_EXPIRY_DAYS,
        },
    }


def load_config(path: Path) -> dict[str, Any]:
    """The whole file as streamlit-authenticator reads it; an empty config if it is missing.

    A user whose password is not a bcrypt hash is refused here, so a plain-text password typed
    into the file by hand can never be used to sign in.
    """
    if not path.exists():
        return _empty_config()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise UsersFileError(f"{path}: expected a mapping at the top level")
    config = _empty_config()
    config["cookie"].update(raw.get("cookie") or {})
    users = ((raw.get("credentials") or {}).get("usernames")) or {}
    for name, entry in users.items():
        password = str((entry or {}).get("password", ""))
        if not is_bcrypt_hash(password):
            raise UsersFileError(
                f"{path}: the password of {name!r} is not a bcrypt hash; set it with "
                f"`python3 -m pipelines users add {name} --role ROLE --replace`"
            )
        roles = (entry or {}).get("roles") or []
        if len(roles) != 1 or roles[0] not in ROLES:
            raise UsersFileError(f"{path}: {name!r} needs exactly one role of {', '.join(ROLES)}")
    config["credentials"]["usernames"] = users
    return config


def save_config(path: Path, config: dict[str, Any]) -> None:
    """Write atomically (a reader never sees half a file), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".users-", suffix=".yaml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def accounts(path: Path) -> dict[str, Account]:
    """username -> account, for every user in the file (none when it does not exist)."""
    users = load_config(path)["credentials"]["usernames"]
    return {
        str(name): Account(
            username=str(name),
            display_name=str(entry.get("name") or name),
            role=str(entry["roles"][0]),
            password_hash=str(entry["password"]),
        )
        for name, entry in users.items()
    }


def add_user(
    path: Path,
    username: str,
    role: str,
    password: str,
    *,
    display_name: str | None = None,
    replace: bool = False,
) -> Account:
    """Add (or with `replace`, overwrite) one user; the password is stored as a bcrypt hash."""
    if not USERNAME_PATTERN.match(username):
        raise UsersFileError(
            f"invalid user name {username!r}: lower-case letters, digits and . _ @ - only, up to 64"
        )
    if role not in ROLES:
        raise UsersFileError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsersFileError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password != password.strip():
        # the sign-in widget strips what is typed, so such a password could never be entered
        raise UsersFileError("the password must not start or end with a space")
    config = load_config(path)
    users = config["credentials"]["usernames"]
    if username in users and not replace:
        raise UsersFileError(f"user {username!r} exists already (use --replace to change it)")
    users[username] = {
        "name": display_name or username,
        "password": hash_password(password),
        "roles": [role],
    }
    save_config(path, config)
    return accounts(path)[username]


def remove_user(path: Path, username: str) -> None:
    config = load_config(path)
    if config["credentials"]["usernames"].pop(username, None) is None:
        raise UsersFileError(f"no user {username!r} in {path}")
    save_config(path, config)


def ensure_demo_users(path: Path) -> bool:
    """Create the documented demo users when there is no users file; True if it did."""
    if path.exists():
        return False
    config = _empty_config()
    for username, (role, password) in DEMO_USERS.items():
        config["credentials"]["usernames"][username] = {
            "name": f"Demo {role}",
            "password": hash_password(password),
            "roles": [role],
        }
    save_config(path, config)
    return True
