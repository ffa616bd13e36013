"""Roles and permissions, the users file, the write action's own check, the store's record of
who wrote, and the dashboard command's address. Pure functions and the CLI; the pages are in
tests/test_dashboard_routing.py and tests/test_dashboard_pages.py."""

from __future__ import annotations

import io
import sqlite3
import stat
import sys
from pathlib import Path

import pytest
import yaml

from dashboards.lib import users
from dashboards.lib.actions import retry_dead_letter
from dashboards.lib.auth import (
    APPROVE_REPLENISHMENT,
    PERMISSIONS,
    RETRY_DELIVERY,
    VIEW,
    PermissionDenied,
    User,
    can,
    is_loopback,
    require,
)
from ops_actions.store import open_retry_requests, open_store, request_retry
from pipelines import cli

VIEWER = User("vera", "Vera", "viewer")
OPERATOR = User("olga", "Olga", "operator")
PLANNER = User("paula", "Paula", "planner")
ADMIN = User("ada", "Ada", "admin")


# --------------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------------


def test_only_operators_and_admins_may_retry_deliveries():
    assert [u.role for u in (VIEWER, OPERATOR, PLANNER, ADMIN) if can(u, RETRY_DELIVERY)] == [
        "operator",
        "admin",
    ]
    assert not can(None, RETRY_DELIVERY)


def test_everyone_signed_in_may_view_and_admins_may_do_everything():
    assert all(can(u, VIEW) for u in (VIEWER, OPERATOR, PLANNER, ADMIN))
    assert all(can(ADMIN, p) for p in PERMISSIONS)
    assert can(PLANNER, APPROVE_REPLENISHMENT) and not can(OPERATOR, APPROVE_REPLENISHMENT)


def test_require_names_who_may_when_it_refuses():
    assert require(OPERATOR, RETRY_DELIVERY) is OPERATOR
    with pytest.raises(PermissionDenied, match="vera is a viewer; only operator or admin"):
        require(VIEWER, RETRY_DELIVERY)
    with pytest.raises(PermissionDenied, match="sign in as operator or admin"):
        require(None, RETRY_DELIVERY)
    with pytest.raises(PermissionDenied):
        require(User("x", "x", "superuser"), VIEW)  # a role nobody defined grants nothing
    with pytest.raises(ValueError, match="unknown permission"):
        can(ADMIN, "retry")  # a typo in a permission is a bug, not a refusal


# --------------------------------------------------------------------------------------------
# The write action checks the role itself and records who wrote
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [None, VIEWER, PLANNER])
def test_a_retry_without_the_role_writes_nothing_even_when_called_directly(user, tmp_path):
    store = tmp_path / "ops_store.sqlite"
    with pytest.raises(PermissionDenied):
        retry_dead_letter(user, store, "action-1")
    assert not store.exists()  # refused before the store was even opened


@pytest.mark.parametrize("user", [OPERATOR, ADMIN])
def test_a_retry_by_an_operator_or_admin_records_their_name_and_role(user, tmp_path):
    store = tmp_path / "ops_store.sqlite"
    request_id = retry_dead_letter(user, store, "action-1")
    [request] = open_retry_requests(store)
    assert (request.request_id, request.action_id) == (request_id, "action-1")
    assert (request.requested_by, request.requested_role) == (user.username, user.role)


def test_the_store_refuses_a_request_that_names_nobody(tmp_path):
    store = tmp_path / "ops_store.sqlite"
    for nobody in ("", "   "):
        with pytest.raises(ValueError, match="must name the user"):
            request_retry(store, "action-1", nobody)
    assert not store.exists() or open_retry_requests(store) == []


def test_a_store_created_before_roles_were_recorded_is_migrated_in_place(tmp_path):
    store = tmp_path / "ops_store.sqlite"
    con = sqlite3.connect(store)  # the schema as the first release created it, with a row
    con.executescript(
        """create table retry_requests (request_id text primary key, action_id text not null,
               requested_by text not null, requested_at text not null, consumed_at text,
               outcome text);
           insert into retry_requests values ('r0', 'old-action', 'dashboard',
               '2026-12-01T10:00:00', null, null);"""
    )
    con.commit()
    con.close()

    request_retry(store, "new-action", "olga", "operator")
    found = {r.action_id: (r.requested_by, r.requested_role) for r in open_retry_requests(store)}
    assert found == {"old-action": ("dashboard", None), "new-action": ("olga", "operator")}
    with open_store(store) as con:  # opening it again migrates nothing twice
        columns = [row[1] for row in con.execute("pragma table_info(retry_requests)")]
    assert columns.count("requested_role") == 1


# --------------------------------------------------------------------------------------------
# The users file
# --------------------------------------------------------------------------------------------


def test_passwords_are_stored_only_as_bcrypt_hashes(tmp_path):
    path = tmp_path / "users.yaml"
    users.add_user(path, "olga", "operator", "olga-operates-42")
    text = path.read_text()
    assert "olga-operates-42" not in text
    stored = yaml.safe_load(text)["credentials"]["usernames"]["olga"]
    assert users.is_bcrypt_hash(stored["password"])
    assert users.verify_password("olga-operates-42", stored["password"])
    assert not users.verify_password("olga-operates-43", stored["password"])
    assert stored["roles"] == ["operator"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the owner's only


def test_a_plain_text_password_put_in_the_file_by_hand_is_refused(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text(
        yaml.safe_dump(
            {"credentials": {"usernames": {"eve": {"password": "letmein1", "roles": ["admin"]}}}}
        )
    )
    with pytest.raises(users.UsersFileError, match="not a bcrypt hash"):
        users.accounts(path)


def test_adding_users_checks_name_role_password_and_duplicates(tmp_path):
    path = tmp_path / "users.yaml"
    users.add_user(path, "olga", "operator", "olga-operates-42")
    for name, role, password, message in [
        ("Olga", "viewer", "long-enough", "lower-case"),  # the widget lower-cases the name
        ("a b", "viewer", "long-enough", "invalid user name"),
        ("zoe", "root", "long-enough", "unknown role"),
        ("zoe", "viewer", "short", "at least 8"),
        ("zoe", "viewer", " padded-password ", "space"),
        ("olga", "admin", "olga-operates-42", "exists already"),
    ]:
        with pytest.raises(users.UsersFileError, match=message):
            users.add_user(path, name, role, password)
    users.add_user(path, "olga", "admin", "new-password-1", replace=True)
    assert users.accounts(path)["olga"].role == "admin"
    users.remove_user(path, "olga")
    assert users.accounts(path) == {}
    with pytest.raises(users.UsersFileError, match="no user"):
        users.remove_user(path, "olga")


def test_demo_users_are_created_only_when_there_is_no_users_file(tmp_path):
    path = tmp_path / "users.yaml"
    assert users.ensure_demo_users(path)
    found = users.accounts(path)
    assert {n: a.role for n, a in found.items()} == {
        "demo-viewer": "viewer",
        "demo-operator": "operator",
        "demo-planner": "planner",
        "demo-manager": "manager",
        "demo-admin": "admin",
    }
    for name, (_, password) in users.DEMO_USERS.items():  # the passwords docs/dashboards.md gives
        assert users.verify_password(password, found[name].password_hash)
        assert password not in path.read_text()
    users.remove_user(path, "demo-admin")
    assert not users.ensure_demo_users(path)  # an existing file is never touched
    assert "demo-admin" not in users.accounts(path)


def test_each_users_file_signs_its_cookies_with_its_own_random_key(tmp_path):
    keys = set()
    for name in ("a.yaml", "b.yaml"):
        users.add_user(tmp_path / name, "olga", "operator", "olga-operates-42")
        keys.add(users.load_config(tmp_path / name)["cookie"]["key"])
    assert len(keys) == 2 and all(len(k) >= 32 for k in keys)


def test_users_command_adds_lists_and_removes(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.yaml"
    monkeypatch.setenv("OMS_USERS_FILE", str(path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("olga-operates-42\n"))
    assert cli.main(["users", "add", "olga", "--role", "operator", "--password-stdin"]) == 0
    assert users.verify_password("olga-operates-42", users.accounts(path)["olga"].password_hash)
    assert cli.main(["users", "list"]) == 0
    assert "olga" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["users", "add", "bob", "--role", "viewer", "--password-stdin"]) == 2
    assert cli.main(["users", "remove", "olga"]) == 0
    assert users.accounts(path) == {}


# --------------------------------------------------------------------------------------------
# Where the dashboard listens
# --------------------------------------------------------------------------------------------


def _dashboard_argv(monkeypatch, *args: str) -> list[str]:
    started: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **_: started.append(cmd) or 0)
    assert cli.main(["dashboard", *args]) == 0
    [command] = started
    return command


def test_the_dashboard_listens_on_loopback_by_default(monkeypatch):
    monkeypatch.delenv("OMS_DASHBOARD_ADDRESS", raising=False)
    command = _dashboard_argv(monkeypatch)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"


def test_the_dashboard_is_exposed_only_when_asked(monkeypatch, capsys):
    command = _dashboard_argv(monkeypatch, "--address", "0.0.0.0")
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert "every page needs a signed-in user" in capsys.readouterr().out
    monkeypatch.setenv("OMS_DASHBOARD_ADDRESS", "10.0.0.5")
    command = _dashboard_argv(monkeypatch)
    assert command[command.index("--server.address") + 1] == "10.0.0.5"


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("dashboards.example", False),
        ("", False),  # Streamlit listens everywhere when no address is given
        (None, False),
    ],
)
def test_what_counts_as_loopback(address, loopback):
    assert is_loopback(address) is loopback


def test_users_file_defaults_under_the_ignored_data_folder(monkeypatch):
    from pipelines.settings import PROJECT_ROOT, get_settings

    monkeypatch.delenv("OMS_USERS_FILE", raising=False)
    monkeypatch.delenv("OMS_DATA_DIR", raising=False)
    path = get_settings().users_file
    assert path == PROJECT_ROOT / "data" / "users.yaml"
    ignored = Path(PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "data/users.yaml" in ignored
