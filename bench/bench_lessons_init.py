"""Speed of the lessons that train batches of networks: the three about the starting weights and the one on
near-duplicate neurons.

1. First render of each page with nothing cached (st.cache_data cleared), under Streamlit's AppTest:
   opening on its question (the default) and opening on its answer (?predict=0, which trains). The budget
   is 3 s; the course's and the near-duplicates' answers are exempt: they train once per server under a
   progress bar.
2. The course's experiment over its draws as the page runs it (one batch, in chunks with a progress report after
   each, then the boundaries): budget 15 s. Beside it, one draw alone and the batch at the history's default row
   budget (sparse recording pays).
3. The near-duplicates lesson's 140 networks as the page trains and measures them.

Wall seconds are what a visitor waits; CPU seconds are this process's own work, which other load on the machine
inflates less. Imports and one warm-up render come first, so the timings are the page's own work. Threads as in
app.py.

    python bench/bench_lessons_init.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbreak import Trainer  # noqa: E402
from symbreak.lessons import course, duplicates  # noqa: E402

PAGES = ("lesson_wasted", "lesson_duplicates", "lesson_init_scale", "lesson_course")
TRAINED_ONCE = ("lesson_duplicates", "lesson_course")  # their answers train under a progress bar
BUDGET_SECONDS = 3.0
COURSE_BUDGET_SECONDS = 15.0


def render(name: str, **query: str) -> float:
    """Seconds for one cold first render of a page (caches cleared first)."""
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "lessons" / f"{name.removeprefix('lesson_')}.py"), default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    start = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"{name}: {at.exception[0].value}")
    return seconds


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def course_run(configs: list, max_rows: int | None) -> float:
    trainer = Trainer(configs, dataset=course.course_dataset(), max_rows=max_rows)
    start = time.perf_counter()
    trainer.step(course.COURSE_STEPS)
    return time.perf_counter() - start


def verdict(seconds: float, budget: float) -> str:
    return f"{'within' if seconds <= budget else 'OVER'} {budget:.0f} s"


def main() -> None:
    torch.set_num_threads(1)
    warm_up = render("lesson_wasted")  # imports and Streamlit's first-run costs, paid once per server
    print(f"once per server process: Streamlit's first page run (modules imported above) {warm_up:6.2f} s")
    print(f"first render, nothing cached (budget {BUDGET_SECONDS:.0f} s; trained under a progress bar: "
          f"{', '.join(TRAINED_ONCE)}'s answers)")
    for name in PAGES:
        ask, answer = render(name), render(name, predict="0")
        worst = ask if name in TRAINED_ONCE else max(ask, answer)
        print(f"  {name:18s} question {ask:6.2f} s   answer {answer:6.2f} s  ({verdict(worst, BUDGET_SECONDS)})")
    reports: list[float] = []
    wall, cpu = timed(lambda: course.course_experiment(progress=reports.append))
    draws = [config for _, _, config in course.course_draws()]
    batched = course_run(draws, course.COURSE_ROWS)
    single = course_run(draws[-1:], course.COURSE_ROWS)
    dense = course_run(draws, None)
    print(f"course experiment: {len(draws)} draws x {course.COURSE_STEPS:,} steps")
    print(f"  as the page runs it     {wall:6.2f} s wall, {cpu:6.2f} s CPU  ({verdict(wall, COURSE_BUDGET_SECONDS)}; "
          f"{len(reports)} progress reports)")
    print(f"  batched, {course.COURSE_ROWS} rows      {batched:6.2f} s")
    print(f"  one draw alone         {single:6.2f} s")
    print(f"  batched / one alone    {batched / single:6.2f} x  ({len(draws)} runs for this many single runs)")
    print(f"  default rows / {course.COURSE_ROWS} rows {dense / batched:6.2f} x  (what sparse recording saves)")
    found: list = []
    wall, cpu = timed(lambda: found.append(duplicates.duplicates()))
    print(f"near-duplicates: {found[0].networks} networks x {duplicates.DUP_STEPS:,} steps, trained and measured "
          f"{wall:6.2f} s wall, {cpu:6.2f} s CPU (under a progress bar)")


if __name__ == "__main__":
    main()
