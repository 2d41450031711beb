"""Speed of the "What breaks symmetry" matrix: 14 interventions × 500 steps, batched side by side.

Prints the best of a few repeats for the matrix computation (and for building its figure), and,
for information only, the ratio to one single run of 500 steps of the constant start. The page's
budget is 3 s for the whole matrix. Threads as in app.py (one).

    python bench/bench_lessons.py
"""

from __future__ import annotations

import time

import torch

from symbreak import Trainer
from symbreak.figures.lessons import breaker_figure
from symbreak.lessons import breakers

STEPS = 500
REPEATS = 3
BUDGET_SECONDS = 3.0


def best_of(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    single = breakers.breaker_base(STEPS)
    data = Trainer(single).dataset

    def one_run() -> None:
        Trainer(single, dataset=data, max_rows=breakers.BREAKER_ROWS).step(STEPS)

    matrix = breakers.breaker_matrix(STEPS)
    t_matrix = best_of(lambda: breakers.breaker_matrix(STEPS))
    t_figure = best_of(lambda: breaker_figure(matrix.table, matrix.series, matrix.series_steps))
    t_single = best_of(one_run)
    print(f"breaker matrix: {len(matrix.configs)} runs x {STEPS} steps in {matrix.batches} batched groups")
    print(f"  matrix computation   {t_matrix:6.3f} s  (budget {BUDGET_SECONDS:.0f} s: "
          f"{'within' if t_matrix + t_figure < BUDGET_SECONDS else 'OVER'})")
    print(f"  figure               {t_figure:6.3f} s")
    print(f"  one single run       {t_single:6.3f} s")
    print(f"  matrix / single run  {t_matrix / t_single:6.2f} x  (informative: 14 runs for this many single runs)")


if __name__ == "__main__":
    main()
