"""Speed of the three lessons about the starting weights.

1. First render of each page with nothing cached (st.cache_data cleared), under Streamlit's AppTest:
   opening on its question (the default) and opening on its answer (?predict=0, which trains). The budget
   is 3 s; the course's page is exempt on its answer (it trains 3 × 15,000 steps once per server).
2. The course's experiment: 3 starts × 15,000 steps as the page runs it (one batch, in chunks with a progress
   report after each, then the boundaries), the bare batched run against one start alone, and against the
   same batch recording at the history's default row budget (sparse recording pays).

Imports and one warm-up render come first, so the timings are the page's own work. Threads as in app.py.

    python bench/bench_lessons_init.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbreak import Trainer  # noqa: E402
from symbreak.lessons import course  # noqa: E402

PAGES = ("lesson_wasted", "lesson_init_scale", "lesson_course")
BUDGET_SECONDS = 3.0
COURSE_BUDGET_SECONDS = 10.0


def render(name: str, **query: str) -> float:
    """Seconds for one cold first render of a page (caches cleared first)."""
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    start = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"{name}: {at.exception[0].value}")
    return seconds


def course_run(configs: list, max_rows: int | None) -> float:
    trainer = Trainer(configs, dataset=course.course_dataset(), max_rows=max_rows)
    start = time.perf_counter()
    trainer.step(course.COURSE_STEPS)
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    warm_up = render("lesson_wasted")  # imports and Streamlit's first-run costs, paid once per server
    print(f"once per server process: Streamlit's first page run (modules imported above) {warm_up:6.2f} s")
    print("first render, nothing cached (budget 3 s)")
    for name in PAGES:
        ask, answer = render(name), render(name, predict="0")
        budget = COURSE_BUDGET_SECONDS if name == "lesson_course" else BUDGET_SECONDS
        print(f"  {name:18s} question {ask:6.2f} s   answer {answer:6.2f} s  "
              f"({'within' if max(ask, answer) <= budget else 'OVER'} {budget:.0f} s)")
    configs = list(course.course_configs().values())
    reports: list[float] = []
    start = time.perf_counter()
    course.course_experiment(progress=reports.append)
    page_run = time.perf_counter() - start
    batched = course_run(configs, course.COURSE_ROWS)
    single = course_run(configs[2:], course.COURSE_ROWS)
    dense = course_run(configs, None)
    print(f"course experiment: 3 x {course.COURSE_STEPS:,} steps")
    print(f"  as the page runs it     {page_run:6.2f} s  (budget {COURSE_BUDGET_SECONDS:.0f} s: "
          f"{'within' if page_run <= COURSE_BUDGET_SECONDS else 'OVER'}; {len(reports)} progress reports)")
    print(f"  batched, {course.COURSE_ROWS} rows      {batched:6.2f} s  (budget {COURSE_BUDGET_SECONDS:.0f} s: "
          f"{'within' if batched <= COURSE_BUDGET_SECONDS else 'OVER'})")
    print(f"  one start alone        {single:6.2f} s")
    print(f"  batched / one alone    {batched / single:6.2f} x  (three runs for this many single runs)")
    print(f"  default rows / {course.COURSE_ROWS} rows {dense / batched:6.2f} x  (what sparse recording saves)")


if __name__ == "__main__":
    main()
