"""One app process, as `make run` starts it: kept to one core, with one torch thread.

A Streamlit process runs its event loop and every session's script on threads that share one interpreter lock.
Free to run on two cores, they hand the lock across at every message: 30 students pressing "Step 100" every 2 s
got a p95 of 989 ms from an unpinned process and 143 ms from one kept to a core. `--threads N` (N > 1) is the
way out for one user training large data or wide layers: the process may then use every core, with N threads.

    python -m symbreak.serving.single [--threads N] [--port P] [streamlit options ...]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from symbreak.serving.cpus import allowed_cores
from symbreak.serving.serve import MALLOC_ARENA_MAX, PRELOAD

APP = Path(__file__).resolve().parents[2] / "app.py"
MAX_THREADS = 256


def core_for(threads: int) -> int | None:
    """The core to keep the process on: the first it may use, when it may use several and trains on one thread."""
    cores = allowed_cores()
    return cores[0] if threads == 1 and len(cores) > 1 else None


def environment(threads: int) -> dict[str, str]:
    """The process's environment: `threads` OpenMP/MKL threads and two malloc arenas (as a classroom worker)."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "MALLOC_ARENA_MAX": MALLOC_ARENA_MAX})
    return env


def command(port: int, extra: list[str]) -> list[str]:
    """`streamlit run app.py` with the app's heavy modules loaded first, as a classroom worker (serve.PRELOAD)."""
    return [sys.executable, "-c", PRELOAD, "run", str(APP), "--server.port", str(port), *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symbreak.serving.single", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch threads (default 1, kept to one core; more lets one user train large runs "
                             "on every core)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("STREAMLIT_SERVER_PORT", "8501")))
    args, extra = parser.parse_known_args(argv)
    if not 1 <= args.threads <= MAX_THREADS:
        parser.error(f"--threads: must be between 1 and {MAX_THREADS} (got {args.threads})")
    core = core_for(args.threads)
    if core is not None:
        os.sched_setaffinity(0, {core})  # kept across exec: the server and every thread it starts stay on this core
    where = f"kept to core {core}" if core is not None else f"{args.threads} thread(s), not pinned"
    print(f"symbreak: one app process on port {args.port}, {where}", flush=True)
    os.execve(sys.executable, command(args.port, extra), environment(args.threads))
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    raise SystemExit(main())
