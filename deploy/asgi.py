"""The app with its security headers, as an ASGI app: `streamlit run deploy/asgi.py` (from the checkout's root).

`streamlit run app.py` serves the same pages without the headers. This file sits in deploy/ because only a
deployment needs it (the container of the cluster and of compose runs it); app.py stays the app's one entry script
and symbreak/ stays free of streamlit.
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from symbreak.serving.headers import SecurityHeaders

app = st.App(Path(__file__).resolve().parent.parent / "app.py", middleware=[Middleware(SecurityHeaders)])
