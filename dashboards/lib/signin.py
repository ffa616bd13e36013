"""Signing in to the dashboard (streamlit-authenticator), and who is signed in now.

The widget checks the password against the bcrypt hash in the users file and keeps the session
signed in with a cookie signed by the file's own random key. Who the user is and which role
they have is read from the users file on every rerun (`current_user`), so removing a user or
changing a role takes effect at their next click, not at their next sign-in.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from dashboards.lib.auth import User, is_loopback
from dashboards.lib.users import UsersFileError, accounts, load_config
from pipelines.settings import get_settings

SIGN_IN_FIELDS = {
    "Form name": "Sign in",
    "Username": "User name",
    "Password": "Password",
    "Login": "Sign in",
}


def viewing_requires_sign_in() -> bool:
    """Reading pages needs a sign-in when asked for, or when the app listens beyond loopback:
    on this machine only, whoever can open the page can already read the data files."""
    return get_settings().dashboard_sign_in_to_view or not is_loopback(
        st.get_option("server.address")
    )


def current_user() -> User | None:
    """The signed-in user with their role as the users file says now; None if not signed in
    (or no longer in the file)."""
    if st.session_state.get("authentication_status") is not True:
        return None
    username = st.session_state.get("username")
    if not username:
        return None
    try:
        account = accounts(get_settings().users_file).get(str(username))
    except (UsersFileError, OSError):
        return None
    if account is None:
        return None
    return User(account.username, account.display_name, account.role)


def _authenticator() -> Any | None:
    """The sign-in widget over the users file; None when there is no (valid) users file."""
    path = get_settings().users_file
    if not path.exists():
        return None
    config = load_config(path)
    cookie = config["cookie"]
    # The credentials are given as a dict, not the path: the widget would otherwise write its
    # bookkeeping (failed attempts, logged-in flags) back into the users file.
    return stauth.Authenticate(
        config["credentials"],
        cookie["name"],
        cookie["key"],
        float(cookie["expiry_days"]),
        auto_hash=False,  # load_config refuses anything that is not a bcrypt hash already
        login_sleep_time=0,  # it reads the cookie from the request; nothing to wait for
    )


def sign_in_panel(location: str = "sidebar") -> User | None:
    """Render the sign-in form, or who is signed in with a sign-out button; return the user."""
    container = st.sidebar if location == "sidebar" else st.container()
    path = get_settings().users_file
    try:
        authenticator = _authenticator()
    except (UsersFileError, OSError) as exc:
        container.error(f"Sign-in is unavailable: {exc}", icon=":material/lock:")
        return None
    if authenticator is None:
        container.caption(
            f"Sign-in is off: no users file at `{path}`. Add a user with "
            "`python3 -m pipelines users add NAME --role operator`."
        )
        return None
    try:
        authenticator.login(location=location, fields=SIGN_IN_FIELDS, key="oms_sign_in")
    except LoginError as exc:  # e.g. a cookie naming a user who was removed since
        container.error(f"Sign-in refused: {exc}", icon=":material/lock:")
        # forget that cookie, or every rerun would try it again until it expires
        authenticator.cookie_controller.delete_cookie()
    if st.session_state.get("authentication_status") is False:
        container.error("User name or password is incorrect.", icon=":material/lock:")
    user = current_user()
    if user is None and st.session_state.get("authentication_status") is True:
        # signed in, but no longer in the users file: end the session and its cookie
        authenticator.logout(location="unrendered")
    if user is not None:
        container.markdown(f"Signed in as **{user.username}** · {user.role}")
        authenticator.logout("Sign out", location=location, key="oms_sign_out")
    return user
