"""Entry point of the OMS dashboards: `streamlit run dashboards/app.py` from the repo root.

Pages live in `dashboards/app_pages/`, queries in `dashboards/lib/`.
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

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(
    page_title="OMS dashboards",
    page_icon=":material/local_shipping:",
    layout="wide",
)

navigation = st.navigation(
    {
        "Managers": [
            st.Page(
                PAGES_DIR / "overview.py",
                title="Overview",
                icon=":material/monitoring:",
                default=True,
            ),
        ],
        "Operations": [
            st.Page(
                PAGES_DIR / "routing.py",
                title="Routing",
                icon=":material/alt_route:",
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
