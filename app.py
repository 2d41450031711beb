"""symbreak's entry point: page settings and the navigation over pages/ (`streamlit run app.py`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

# The tensors are tiny: extra OpenMP threads only add overhead on a busy 2-core server.
torch.set_num_threads(1)

ROOT = Path(__file__).parent
LESSONS = (
    ("pages/lesson_gradients.py", "Why the gradients match"),
    ("pages/lesson_breakers.py", "What breaks symmetry"),
    ("pages/lesson_no_hidden.py", "No hidden layer"),
    ("pages/lesson_split_speed.py", "How fast they split"),
    ("pages/compare.py", "Compare"),
)

present = str(st.query_params.get("present", "")).strip().lower() in ("1", "true", "yes", "on")
st.set_page_config(page_title="symbreak: symmetry breaking", page_icon=":material/hub:", layout="wide",
                   initial_sidebar_state="collapsed" if present else "expanded")
# Just enough space above the first line (the controls) to clear the top bar: the views matter more.
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 4.5rem;}</style>")
pages = {"Playground": [st.Page("pages/playground.py", title="Playground", icon=":material/science:", default=True)]}
lessons = [st.Page(path, title=title) for path, title in LESSONS if (ROOT / path).exists()]
if lessons:
    pages["Lessons"] = lessons
st.navigation(pages, position="hidden" if present else "sidebar").run()
