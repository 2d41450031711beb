"""The app with its security headers, as an ASGI app: `streamlit run deploy/asgi.py` (from the checkout's root).

`streamlit run app.py` serves the same pages without the headers. This file sits in deploy/ because only a
deployment needs it (the pods and compose run it, and `symbreak serve` with one worker, which has no nginx to add
the headers); app.py stays the app's one entry script and symbreak/ stays free of streamlit. It serves the script
$SYMBREAK_APP names (`symbreak serve --app`), app.py by default.
"""

import os
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from symbreak.serving.headers import SecurityHeaders

SCRIPT = os.environ.get("SYMBREAK_APP") or Path(__file__).resolve().parent.parent / "app.py"

app = st.App(SCRIPT, middleware=[Middleware(SecurityHeaders)])
