"""Entry point of the OMS dashboards: `streamlit run dashboards/app.py` from the repo root.

Pages live in `dashboards/app_pages/`, queries in `dashboards/lib/`. Every page is readable
without signing in while the app listens on loopback only; beyond it (or with
OMS_DASHBOARD_SIGN_IN_TO_VIEW=1) nothing shows before a sign-in. Write actions always need a
signed-in user whose role grants them (`dashboards/lib/auth.py`).
"""

import sys
from pathlib import Path

# `streamlit run dashboards/app.py` puts the script's folder (dashboards/) on sys.path, not the
# repo root, so `import dashboards...` and `import pipelines...` would fail unless the project is
# installed. Put the repo root first so the app always runs against this checkout.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402

from dashboards.lib.signin import sign_in_panel, viewing_requires_sign_in  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(
    page_title="OMS dashboards",
    page_icon=":material/local_shipping:",
    layout="wide",
)

user = sign_in_panel()
if user is None and viewing_requires_sign_in():
    st.title("OMS dashboards")
    st.info(
        "Sign in (left) to see the dashboards: this app is reachable beyond this machine, so "
        "every page needs a signed-in user.",
        icon=":material/lock:",
    )
    st.stop()

navigation = st.navigation(
    {
        "Managers": [
            st.Page(
                PAGES_DIR / "overview.py",
                title="Overview",
                icon=":material/monitoring:",
                default=True,
            ),
            st.Page(
                PAGES_DIR / "breakdowns.py",
                title="Breakdowns",
                icon=":material/bar_chart:",
            ),
            st.Page(
                PAGES_DIR / "targets.py",
                title="Targets and alerts",
                icon=":material/flag:",
            ),
            st.Page(
                PAGES_DIR / "inventory.py",
                title="Inventory",
                icon=":material/warehouse:",
            ),
        ],
        "Planners": [
            st.Page(
                PAGES_DIR / "planner.py",
                title="Replenishment",
                icon=":material/inventory_2:",
            ),
        ],
        "Operations": [
            st.Page(
                PAGES_DIR / "routing.py",
                title="Routing",
                icon=":material/alt_route:",
            ),
            st.Page(
                PAGES_DIR / "holds.py",
                title="Order holds",
                icon=":material/front_hand:",
            ),
            st.Page(
                PAGES_DIR / "order.py",
                title="Order",
                icon=":material/receipt_long:",
            ),
            st.Page(
                PAGES_DIR / "actions.py",
                title="Action log",
                icon=":material/outbox:",
            ),
        ],
        "Data": [
            st.Page(
                PAGES_DIR / "data_quality.py",
                title="Data quality",
                icon=":material/fact_check:",
            ),
        ],
    }
)
navigation.run()
