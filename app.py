"""symbreak's entry point, run before every page: the session janitor, page settings and the navigation over pages/
(`streamlit run app.py`)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

import symbreak  # noqa: F401  (first: it gives torch one OpenMP thread on every thread, see its docstring)
import torch

from pages import access, chrome, classroom, session
from pages.lessons import LESSONS

# The tensors are tiny: extra OpenMP threads only add overhead on a busy 2-core server. A process started with more
# (`make run THREADS=4` sets OMP_NUM_THREADS) keeps them for one user's large runs.
if os.environ.get("OMP_NUM_THREADS") == "1":  # symbreak set it unless the user did
    torch.set_num_threads(1)

ROOT = Path(__file__).parent

# The tab's icon, drawn here rather than fetched: a Material icon as page_icon is loaded from a font host on the
# internet, which an offline classroom cannot reach. Two tied hidden neurons feeding one output.
ICON = ("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'><g stroke='#0072B2' stroke-width='1.6'>"
        "<line x1='6' y1='7' x2='12' y2='18'/><line x1='18' y1='7' x2='12' y2='18'/></g>"
        "<circle cx='6' cy='6' r='4' fill='#0072B2'/><circle cx='18' cy='6' r='4' fill='#0072B2'/>"
        "<circle cx='12' cy='19' r='3.5' fill='#E69F00'/></svg>")

session.JANITOR.watch()  # every run of every page passes here: the janitor knows every session
present = chrome.present_mode()
st.set_page_config(page_title="symbreak: symmetry breaking", page_icon=ICON, layout="wide",
                   initial_sidebar_state="collapsed" if present else "auto")
# Just enough space above the first line (the controls) to clear the top bar: the views matter more. On a phone
# the headline is smaller (three lines beside its count, not five) and every button is large enough to tap.
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 4.5rem;} @media (max-width: 640px) {"
        "[data-testid='stMainBlockContainer'] h2 {font-size: 1.25rem;} "
        "[data-testid='stMainBlockContainer'] [data-testid='stMetricValue'] {font-size: 1.75rem;} "
        "[data-testid='stMainBlockContainer'] button {min-height: 2.75rem;}"
        # Presenting on a phone: only the charts and the controls, not the tabs of further views.
        + (" [data-testid='stMainBlockContainer'] [data-testid='stTabs'] {display: none;}" if present else "")
        + "}</style>")
pages = {"Playground": [st.Page("pages/playground.py", title="Playground", icon=":material/science:", default=True)]}
lessons = [st.Page(path, title=title, url_path=url) for path, title, url in LESSONS if (ROOT / path).exists()]
if lessons:
    pages["Lessons"] = lessons
pages["Class"] = [st.Page("pages/teach.py", title="Teach", url_path="teach", icon=":material/co_present:")]
# Streamlit's own sidebar navigation fails WCAG 1.3.1 (see pages/access.py): the app draws its own links.
page = st.navigation(pages, position="hidden")
access.styles()
if not present:
    access.navigation(pages)
PAGE_FILES = {url: path for path, _, url in LESSONS}
if page.url_path != "teach":  # the teacher's own page draws the class itself
    classroom.banner(PAGE_FILES.get(page.url_path, "pages/playground.py"))
    if classroom.member() is None and not present and classroom.CLASS_KEY not in st.query_params:
        with st.sidebar.expander("Join a class", icon=":material/group_add:", key="class.x.join",
                                 on_change="rerun") as section:
            if section.open:
                classroom.join_form(st, "class.typed")
page.run()
