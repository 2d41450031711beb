"""How many students does one server hold? N protocol clients (no browser) use the Playground at once.

Each student is a `tests/st_protocol.Client`: a websocket session of
Streamlit's own protocol, as the browser opens it. Modes:

- `step`: every student presses "Step 100" every T seconds (staggered over T) for D seconds;
- `play`: every student presses Play and answers the live chart's "drawn" reports for D seconds;
- `open`: the students join (staggered over T) and run the page's first script;
- `class`: 60 students in one class over `symbreak serve --workers 2` (SQLite or Redis, --store) step with the
  teacher's board open, against the same presses without a class (bench/bench_class.py);
- `poll`: 60 students in one class answer a lesson's question, the teacher's page counts, the reveal reaches
  them (bench/bench_class.py).

Without --url it starts its own `streamlit run app.py` on a free port and
stops it at the end; with --url (a server or a proxy) give --pid PID[,PID...]
for the server's memory and CPU (from /proc, child processes included).

    python bench/bench_classroom.py [--url URL --pid PID,...] [--students 10] [--mode step] [--every 2] [--seconds 30]
                                    [--root DIR]
    python bench/bench_classroom.py --mode class [--store sqlite|redis] [--students 60] [--every 2] [--seconds 30]
                                    [--idle-seconds 30] [--board-seconds 20]
    python bench/bench_classroom.py --mode poll [--store sqlite|redis] [--students 60] [--seed 1]

--root runs the app of another checkout (an earlier commit, to compare).

It prints one table: latency p50, p95 and max (a press, from sending it to
the end of its run; an open, from the first GET to the end of the first run),
presses served per second, frames per second per student (play:
median and min), errors, the server's CPU seconds per press, and its RSS
per session ((RSS after the students joined - RSS before) / N).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_kit import streamlit_process  # noqa: E402  (tests/ is put on the path just above)
from st_protocol import Client, ProtocolError  # noqa: E402

STEP_LABEL = "Step 100"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Tally:
    """What the students saw: one latency per press (or open), frames per student, errors by message."""

    latencies: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ the server
def family(pids: list[int]) -> list[int]:
    """The processes and all their descendants (from /proc/PID/task/*/children)."""
    seen, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return seen


def rss_mb(pids: list[int]) -> float:
    """The summed VmRSS of the processes and their children, in MB."""
    total = 0
    for pid in family(pids):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes and their children so far."""
    total = 0
    for pid in family(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total / CLOCK_TICKS


# ------------------------------------------------------------------ the students
async def join(url: str, n: int, spread: float, tally: Tally) -> list[Client]:
    """N students open the Playground, staggered over `spread` seconds; the ones that got in."""
    async def one(i: int) -> Client | None:
        await asyncio.sleep(spread * i / n)
        client = Client(url)
        try:
            tally.latencies.append(await client.open())
            return client
        except Exception as error:  # a refused or failed open is counted, not fatal
            tally.errors.append(f"open: {error}")
            await client.close()
            return None

    return [c for c in await asyncio.gather(*(one(i) for i in range(n))) if c is not None]


async def stepping(students: list[Client], every: float, seconds: float, tally: Tally) -> None:
    """Every student presses STEP_LABEL every `every` s (staggered), or at once when a press took longer."""
    begin = time.monotonic()

    async def one(i: int, client: Client) -> None:
        start, end = begin + every * i / len(students), begin + seconds
        k = 0
        # With every = 0 a student presses again as soon as a press returns: the server's top rate.
        while (due := start + k * every) < end and time.monotonic() < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            try:
                tally.latencies.append(await client.press(STEP_LABEL))
            except Exception as error:
                tally.errors.append(f"press: {error}")
                return
            k += 1

    await asyncio.gather(*(one(i, c) for i, c in enumerate(students)))


async def playing(students: list[Client], seconds: float, tally: Tally) -> None:
    """Every student plays for `seconds` s; the frames each received."""
    async def one(client: Client) -> None:
        try:
            tally.frames.append(await client.play(seconds))
        except Exception as error:
            tally.errors.append(f"play: {error}")

    await asyncio.gather(*(one(c) for c in students))


async def bench(url: str, pids: list[int], args: argparse.Namespace) -> None:
    await warm_up(url, len(pids))
    rss_before = rss_mb(pids) if pids else None
    joined = Tally()
    students = await join(url, args.students, args.every, joined)
    rss_after = rss_mb(pids) if pids else None
    tally = joined if args.mode == "open" else Tally(errors=list(joined.errors))
    cpu_start, own_start, start = (cpu_seconds(pids) if pids else None), time.process_time(), time.monotonic()
    if args.mode == "step":
        await stepping(students, args.every, args.seconds, tally)
    elif args.mode == "play":
        await playing(students, args.seconds, tally)
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(pids) - cpu_start if pids else None
    own = time.process_time() - own_start
    for client in students:
        await client.close()
    report(args, tally, elapsed, cpu, own, rss_before, rss_after)


def report(args: argparse.Namespace, tally: Tally, elapsed: float, cpu: float | None, own: float,
           rss_before: float | None, rss_after: float | None) -> None:
    """One table of what the students saw and what the server spent."""
    lat = sorted(tally.latencies)

    def ms(q: float) -> str:
        return f"{1000 * lat[min(len(lat) - 1, int(q * len(lat)))]:.0f} ms" if lat else "-"

    per = "open" if args.mode == "open" else "press"
    rows = [("students", f"{args.students}"),
            ("mode", args.mode + (f", every {args.every:g} s" if args.mode == "step" else f", {args.seconds:g} s"
                                  if args.mode == "play" else ""))]
    if args.mode != "play":
        rows += [(f"{per}s measured" if per == "open" else "presses measured", f"{len(lat)}"),
                 (f"latency per {per}, p50", ms(0.50)), (f"latency per {per}, p95", ms(0.95)),
                 (f"latency per {per}, max", f"{1000 * lat[-1]:.0f} ms" if lat else "-")]
    if args.mode == "step":
        rows.append(("presses served per second", f"{len(lat) / elapsed:.2f}"))
        if cpu is not None and lat:
            rows.append(("server CPU used", f"{100 * cpu / elapsed:.0f} % of one core"))
            rows.append(("server CPU per press", f"{1000 * cpu / len(lat):.0f} ms"))
    if args.mode == "play":
        fps = sorted(f / args.seconds for f in tally.frames)
        rows.append(("frames/s per student, median", f"{statistics.median(fps):.1f}" if fps else "-"))
        rows.append(("frames/s per student, min", f"{fps[0]:.1f}" if fps else "-"))
        if cpu is not None:
            rows.append(("server CPU used", f"{100 * cpu / elapsed:.0f} % of one core"))
            if sum(tally.frames):
                rows.append(("server CPU per frame", f"{1000 * cpu / sum(tally.frames):.0f} ms"))
    if args.mode != "open":
        rows.append(("the students' own CPU (this process)", f"{100 * own / elapsed:.0f} % of one core"))
    rows.append(("errors", f"{len(tally.errors)}"))
    if rss_before is not None:
        rows.append(("server RSS before / after joining", f"{rss_before:.0f} MB / {rss_after:.0f} MB"))
        rows.append(("server RSS per session", f"{(rss_after - rss_before) / args.students:.2f} MB"))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    for message in sorted(set(tally.errors))[:5]:
        print(f"  error: {message[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server or proxy (default: start one on a free port)")
    parser.add_argument("--pid", help="with --url: the server's process ids, comma-separated, for RSS and CPU")
    parser.add_argument("--students", type=int, help="simulated students (default 10; class and poll: 60)")
    parser.add_argument("--mode", choices=("step", "play", "open", "class", "poll"), default="step",
                        help=f"step: press '{STEP_LABEL}' every --every s; play: press Play and follow the chart for "
                             "--seconds s; open: join and run the first script; class: a class stepping with its "
                             "board open, against no class; poll: a class voting (default step)")
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite",
                        help="class, poll: the class store (redis: the bench starts a redis-server of its own)")
    parser.add_argument("--idle-seconds", type=float, default=30.0,
                        help="class: how long the idle students' CPU is measured (default 30)")
    parser.add_argument("--board-seconds", type=float, default=20.0,
                        help="class: how long the board's CPU is measured with nobody else connected (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="poll: the answers' and their times' seed (default 1)")
    parser.add_argument("--every", type=float, default=2.0,
                        help=f"step: seconds between two '{STEP_LABEL}' presses of a student (0: again as soon as one "
                             "returns, the server's top rate); open: the joins are spread over this many seconds "
                             "(default 2)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="without --url: run the app of this checkout (an earlier commit, to compare)")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of step and play (default 30)")
    args = parser.parse_args()
    if args.students is None:
        args.students = 60 if args.mode in ("class", "poll") else 10
    if args.students < 1 or args.every < 0 or args.seconds <= 0:
        parser.error("--students must be at least 1, --every at least 0 and --seconds more than 0")
    if args.pid and not args.url:
        parser.error("--pid goes with --url (without --url the bench measures the server it starts)")
    if args.mode in ("class", "poll"):
        if args.url:
            parser.error("--mode class and poll start their own `symbreak serve` (and redis-server): no --url")
        from bench_class import run  # it imports this module's helpers: imported only here
        run(args)
        return
    if args.url:
        try:
            pids = [int(p) for p in args.pid.split(",")] if args.pid else []
        except ValueError:
            parser.error(f"--pid takes process ids separated by commas, not {args.pid[:60]!r}")
        asyncio.run(bench(args.url, pids, args))
        return
    with tempfile.TemporaryDirectory() as tmp, streamlit_process(Path(tmp) / "streamlit.log", root=args.root) as (
            url, process):
        asyncio.run(bench(url, [process.pid], args))


async def warm_up(url: str, processes: int = 1) -> None:
    """One session per server process before measuring, so every process has run the pages once (not counted per
    session). They are open together: a proxy sends each new browser to the process with the fewest."""
    clients = [Client(url) for _ in range(max(1, processes))]
    try:
        for client in clients:
            await client.open()
        await asyncio.gather(*(client.press(STEP_LABEL) for client in clients))
    except (OSError, ProtocolError) as error:
        sys.exit(f"bench_classroom: the Playground at {url[:60]} did not answer a first student: {error}")
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


if __name__ == "__main__":
    main()
