"""A class of students over `symbreak serve --workers 2`: the modes `class` and `poll` of bench_classroom.py.

The bench starts `symbreak serve` on a free port with SYMBREAK_STORE set (a SQLite file, or a redis-server of its
own with --store redis), plays every student and the teacher's Teach page with tests/st_protocol.Client, and acts
as the teacher on the store directly where pages/polls.py would (goto, close a round, reveal).

- class: --students (60) students press "Step 100" every --every s for --seconds; first without a class (plain Playground
  students), then in one class with the teacher's board open. It prints how fast a step reaches the store and the
  board, the presses, the workers' CPU per press with and without the class, the CPU of one board refresh, and the
  CPU of sixty idle students with and without a class.
- poll: --students (60) students in one class are sent to the lesson "Why a tie wastes the network"; in each of two rounds
  they all answer within ANSWER_SPREAD s, the bench checks that the store counted every answer once, times the
  Teach page's "N of M answered" (its view set to "The class vote"), then reveals and times every student's page
  until it shows the answer. Round 1's reveal computes the lesson's runs on each worker; round 2's finds them cached.

CPU is read from /proc/PID/stat (utime + stime) of each worker. Every table carries the load average of the
machine (os.getloadavg) at its start and end, and the target each number is meant to meet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from bench_classroom import CLOCK_TICKS, ROOT, STEP_LABEL, cpu_seconds, family, warm_up
from browser_kit import free_port
from redis_server import running_redis
from st_protocol import Client, ProtocolError
from streamlit.proto.WidgetStates_pb2 import WidgetState

from symbreak.serving import classes

if str(ROOT) not in sys.path:  # the app's pages, for the poll's id
    sys.path.insert(1, str(ROOT))

JOIN_SPREAD = 10.0        # the students open their pages over this many seconds
SETTLE = 3.0              # pause after the joins before an idle measurement
GRACE = 4.0               # the board may still show a press this long after the last one
STORE_POLL = 0.05         # the bench reads the store's rows this often
VOTE = "The class vote"  # pages/teach.py's view of the polls, an option of its "Show" control
POLL_TICK = 2.0           # a little over the class page's 1.5 s poll
ANSWER_SPREAD = 5.0       # every student answers within these seconds
WAIT = 120.0              # longest wait for a page to show what it should
PRESS_TIMEOUT = 30.0      # a press still running (its button disabled) this long is an error: that student stops
STEP_SHOWN = re.compile(r"Step ([\d,]+) ·")  # the Playground's headline, ":gray[Step 100 · hidden layer 1 …]"
LESSON = "pages/lessons/wasted.py"
REVEALED = "On the test set:"
TARGETS = {"board": "p95 within 1.5 s", "press": "p95 at most 1 s", "cpu": "class at most 1.10x",
           "refresh": "at most 50 ms CPU", "idle": "at most 10 % of a core", "count": "every answer once",
           "final": "within 1 s", "reveal": "p95 within 2 s"}


# ------------------------------------------------------------------ a page that remembers when it showed what
class Page(Client):
    """A Client that notes when texts first arrive (`expect`) and, on the Teach page, each student's step in the
    board's table as it changes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected: dict[str, float | None] = {}  # substring -> when a text holding it first arrived after expect
        self.steps: dict[str, list[tuple[float, int]]] = {}  # board table: name -> [(when, step)] on each change
        self.name = ""  # the student's name on the board
        self.other_page_runs = 0  # fragment runs the server ran for another page than the one shown

    async def _handle(self, msg) -> None:
        """As the browser does (its handleNewSession), only a full run changes the page this client asks for: a
        fragment run that comes back for another page (a timer's request sent before a switch_page) is counted
        (the browser clears the page's elements then) and its page is not adopted."""
        shown = self._page_hash
        await super()._handle(msg)
        if msg.WhichOneof("type") == "new_session" and msg.metadata.run.fragment_ids and shown \
                and msg.new_session.page_script_hash != shown:
            self.other_page_runs += 1
            self._page_hash = shown

    def expect(self, text: str) -> None:
        self.expected[text] = None

    def seen(self, text: str) -> float | None:
        return self.expected.get(text)

    def _delta(self, msg) -> None:
        super()._delta(msg)
        if msg.delta.WhichOneof("type") != "new_element":
            return
        element, now = msg.delta.new_element, time.perf_counter()
        kind = element.WhichOneof("type")
        if kind in ("markdown", "alert", "text", "heading"):
            body = getattr(element, kind).body
            for text, when in self.expected.items():
                if when is None and text in body:
                    self.expected[text] = now
        elif kind == "dataframe":
            data = element.dataframe.arrow_data.data or element.dataframe.lazy_data.initial_chunk.data
            try:
                table = pa.ipc.open_stream(data).read_all()
                names, steps = table.column("name").to_pylist(), table.column("step").to_pylist()
            except (pa.ArrowException, KeyError, ValueError):
                return
            for name, step in zip(names, steps):
                seen = self.steps.setdefault(str(name), [])
                if not seen or seen[-1][1] != step:
                    seen.append((now, int(step)))


def step_of(client: Client) -> int:
    for text in client.texts():
        found = STEP_SHOWN.search(text)
        if found:
            return int(found.group(1).replace(",", ""))
    return -1


async def until(client: Client, test, seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while not test(client):
        if time.monotonic() > deadline:
            raise ProtocolError(f"waited {seconds:.0f} s; the page shows {client.texts()[:6]}")
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ the server
@dataclass
class Server:
    url: str
    store_url: str
    workers: dict[int, int]  # worker port -> pid
    helpers: list[int] = field(default_factory=list)  # nginx and redis-server

    def cpu(self, port: int | None = None) -> float:
        return cpu_seconds([self.workers[port]] if port else list(self.workers.values()))


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def class_server(store: str, root: Path, tmp: Path) -> Iterator[Server]:
    """`symbreak serve --workers 2` on a free port, its store a SQLite file in `tmp` or a redis-server of its own."""
    with contextlib.ExitStack() as stack:
        redis_pid = []
        if store == "redis":
            store_url, process = stack.enter_context(running_redis(tmp))
            redis_pid = [process.pid]
        else:
            store_url = str(tmp / "classes.sqlite3")
        port = free_port()
        log = tmp / "serve.log"
        with log.open("w") as out:
            serve = subprocess.Popen(
                [sys.executable, "-m", "symbreak", "serve", "--workers", "2", "--port", str(port), "--bind",
                 "127.0.0.1", "--app", str(root / "app.py")], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, classes.STORE_ENV: store_url}, start_new_session=True)
        url, workers = f"http://127.0.0.1:{port}", {}
        try:
            deadline = time.monotonic() + 180
            while len(workers) < 2 or not _health(url):
                if serve.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"bench_classroom: symbreak serve did not start: {log.read_text()[-1500:]}")
                for pid in family([serve.pid]):
                    try:
                        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    except OSError:
                        continue
                    ports = [a[len(b"--server.port="):] for a in args if a.startswith(b"--server.port=")]
                    if ports:
                        workers[int(ports[0])] = pid
                time.sleep(0.3)
            helpers = [p for p in family([serve.pid]) if p != serve.pid and p not in workers.values()] + redis_pid
            yield Server(url, store_url, workers, helpers)
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
            for pid in workers.values():  # a worker left behind by a serve that had to be killed
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ students
async def seat(url: str, n: int, code: str | None, errors: list[str]) -> list[Page]:
    """N students open the Playground over JOIN_SPREAD s; with a class code each types a name and joins it."""
    async def one(i: int) -> Page | None:
        await asyncio.sleep(JOIN_SPREAD * i / n)
        client = Page(url, query=f"class={code}" if code else "")
        client.name = f"S{i:02d}"
        try:
            await client.open()
            if code:
                _, name, fragment = client.widget("Your name on the board", "text_input")
                await client._timed(client._client_state([WidgetState(id=name.id, string_value=client.name)],
                                                         fragment))
                await client.press("Join the class")
                if client.exceptions:
                    raise ProtocolError(client.exceptions[0])
            return client
        except Exception as error:  # noqa: BLE001  a refused join is counted, not fatal
            errors.append(f"open: {error}")
            await client.close()
            return None

    return [c for c in await asyncio.gather(*(one(i) for i in range(n))) if c is not None]


async def stepping(students: list[Page], every: float, seconds: float, errors: list[str]) -> list[tuple]:
    """Every student presses STEP_LABEL every `every` s (staggered): (student, step shown, when it returned,
    seconds it took, script runs it saw start) per press."""
    begin, done = time.monotonic(), []

    async def one(i: int, client: Page) -> None:
        start, end, k = begin + every * i / len(students), begin + seconds, 0
        while (due := start + k * every) < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            runs = client._starts
            try:
                took = await asyncio.wait_for(client.press(STEP_LABEL), PRESS_TIMEOUT)
            except TimeoutError:
                errors.append(f"press: '{STEP_LABEL}' still disabled after {PRESS_TIMEOUT:g} s (the page's runs go "
                              f"on; the run that ends the step never arrived)")
                return
            except Exception as error:  # noqa: BLE001  a failed press is counted, not fatal
                errors.append(f"press: {error}")
                return
            done.append((i, step_of(client), time.perf_counter(), took, client._starts - runs))
            k += 1

    await asyncio.gather(*(one(i, c) for i, c in enumerate(students)))
    return done


def busy_seconds() -> float:
    """The CPU time every process on the machine has used (/proc/stat: all but idle and iowait), in seconds."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


class Meter:
    """From its start: seconds, the workers' CPU seconds, and the share of a core the rest of the machine used
    (every process but the workers, nginx, redis-server and this bench); `helpers`: nginx's and redis-server's CPU
    seconds."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.start = self._now()
        self.helpers = 0.0

    def _now(self) -> tuple[float, float, float, float, float]:
        return (time.monotonic(), self.server.cpu(), busy_seconds(), cpu_seconds(self.server.helpers),
                time.process_time())

    def read(self) -> tuple[float, float, float]:
        t, cpu, busy, helpers, own = (b - a for a, b in zip(self.start, self._now()))
        self.helpers = helpers
        return t, cpu, max(0.0, (busy - cpu - helpers - own) / t)


async def idle_cpu(server: Server, seconds: float) -> tuple[float, float]:
    """The workers' CPU over `seconds` s as a share of one core, and the rest of the machine's."""
    meter = Meter(server)
    await asyncio.sleep(seconds)
    t, cpu, others = meter.read()
    return cpu / t, others


def pct(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.0f} ms"


def spread(values: list[float]) -> str:
    return f"{ms(pct(values, .5))} / {ms(pct(values, .95))} / {ms(max(values, default=None))}"


def delays(presses: list[tuple], names: list[str], shown: dict[str, list[tuple[float, int]]]) -> tuple[list, int]:
    """For each press, seconds from its return to the first time `shown` had that student at its step or later
    (0 when it was there by then: a long Step N publishes before its last run returns); and how many presses never
    showed."""
    out, missing = [], 0
    for i, step, returned, *_ in presses:
        when = next((t for t, s in shown.get(names[i], []) if s >= step), None) if step >= 0 else None
        if when is None:
            missing += 1
        else:
            out.append(max(0.0, when - returned))
    return out, missing


def per(cpu: float, presses: list) -> str:
    return f"{1000 * cpu / max(1, len(presses)):.1f} ms"


def runs(presses: list[tuple]) -> str:
    return f"{sum(p[4] for p in presses) / len(presses):.2f}" if presses else "-"


def early(values: list[float]) -> str:
    return f"{100 * sum(v == 0 for v in values) / len(values):.0f} %" if values else "-"


def table(title: str, rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    value = max(len(r[1]) for r in rows)
    print(f"\n{title}")
    for label, got, target in rows:
        print(f"  {label:<{width}}  {got:<{value}}  {'target: ' + target if target else ''}".rstrip())


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ mode class
async def class_mode(server: Server, args: argparse.Namespace) -> None:
    db = classes.open_store(server.store_url)
    await warm_up(server.url, len(server.workers))
    errors: list[str] = []
    load_start = load()
    # Plain students: idle, then pressing.
    plain = await seat(server.url, args.students, None, errors)
    await asyncio.sleep(SETTLE)
    plain_idle, others_plain_idle = await idle_cpu(server, args.idle_seconds)
    meter = Meter(server)
    plain_presses = await stepping(plain, args.every, args.seconds, errors)
    plain_time, plain_cpu, others_plain = meter.read()
    plain_helpers = meter.helpers
    await asyncio.gather(*(c.close() for c in plain))
    # A class: idle with no teacher, then pressing with the board open while the bench reads the store.
    made = db.new_class()
    students = await seat(server.url, args.students, made.code, errors)
    names = [s.name for s in students]
    await asyncio.sleep(SETTLE)
    class_idle, others_class_idle = await idle_cpu(server, args.idle_seconds)
    teacher = Page(server.url, page="teach", query=f"class={made.code}&key={made.teacher_key}")
    await teacher.open()
    teacher_port = int(teacher.cookies.get("symbreak_worker", 0))
    await until(teacher, lambda t: len(t.steps) >= len(students))
    in_store: dict[str, list[tuple[float, int]]] = {}
    stop = threading.Event()

    def read_store() -> None:
        while not stop.is_set():
            try:
                rows = db.rows(made.code, made.teacher_key)
            except classes.StoreDown:
                rows = []
            now = time.perf_counter()
            for row in rows:
                seen = in_store.setdefault(row["name"], [])
                if "step" in row and (not seen or seen[-1][1] != row["step"]):
                    seen.append((now, row["step"]))
            stop.wait(STORE_POLL)

    reader = threading.Thread(target=read_store, daemon=True)
    reader.start()
    board_runs0, own0 = teacher._starts, time.process_time()
    meter = Meter(server)
    class_presses = await stepping(students, args.every, args.seconds, errors)
    class_time, class_cpu, others_class = meter.read()
    class_helpers = meter.helpers
    own = (time.process_time() - own0) / class_time
    board_runs = teacher._starts - board_runs0
    await asyncio.sleep(GRACE)
    stop.set()
    reader.join()
    on_board = teacher.steps
    await asyncio.gather(*(c.close() for c in students))
    # One board refresh: the teacher's worker with and without the board open, nobody else connected.
    await teacher.close()
    await asyncio.sleep(SETTLE)
    base0 = server.cpu(teacher_port)
    await asyncio.sleep(args.board_seconds / 2)
    base_rate = (server.cpu(teacher_port) - base0) / (args.board_seconds / 2)
    teacher = Page(server.url, page="teach", query=teacher.query, cookies=teacher.cookies)
    await teacher.open()
    await asyncio.sleep(2.0)
    runs0, cpu0, meter = teacher._starts, server.cpu(teacher_port), Meter(server)
    await asyncio.sleep(args.board_seconds)
    refreshes, refresh_cpu = teacher._starts - runs0, server.cpu(teacher_port) - cpu0
    refresh_time, _, others_board = meter.read()
    refresh_rows = len(teacher.steps)
    await teacher.close()
    db.close_store()

    to_store, store_missing = delays(class_presses, names, in_store)
    to_board, board_missing = delays(class_presses, names, on_board)
    plain_lat, class_lat = [p[3] for p in plain_presses], [p[3] for p in class_presses]
    teachers = {s.name for s in students if s.cookies.get("symbreak_worker") == str(teacher_port)}
    on_teachers = [p[3] for p in class_presses if names[p[0]] in teachers]
    on_other = [p[3] for p in class_presses if names[p[0]] not in teachers]
    per_plain = plain_cpu / max(1, len(plain_presses))
    per_class = class_cpu / max(1, len(class_presses))
    board_share = (refresh_cpu / refresh_time - base_rate) * class_time  # what the open board cost over the presses
    print(f"\nbench_classroom --mode class --store {args.store}: {args.students} students, 2 workers (ports "
          f"{sorted(server.workers)}; the teacher on {teacher_port}), Step 100 every {args.every:g} s for "
          f"{args.seconds:g} s\nload average (1, 5, 15 min): {load_start} at the start, {load()} at the end")
    table("(a) a step reaches the board: from the press's return (0 if it was there by then)", [
        ("store row shows it, p50 / p95", f"{ms(pct(to_store, .5))} / {ms(pct(to_store, .95))}", ""),
        ("store row showed it by the press's return", early(to_store), ""),
        ("store row never showed it", f"{store_missing} of {len(class_presses)}", ""),
        ("teacher's board table shows it, p50 / p95", f"{ms(pct(to_board, .5))} / {ms(pct(to_board, .95))}",
         TARGETS["board"]),
        ("board showed it by the press's return", early(to_board), ""),
        ("board never showed it", f"{board_missing} of {len(class_presses)}", ""),
        ("board refreshes seen while pressing", f"{board_runs} in {class_time:.0f} s", "one a second")])
    table("(b) presses", [
        ("no class: p50 / p95 / max", spread(plain_lat), TARGETS["press"]),
        ("in the class: p50 / p95 / max", spread(class_lat), TARGETS["press"]),
        ("in the class, p95 on the teacher's worker / the other",
         f"{ms(pct(on_teachers, .95))} / {ms(pct(on_other, .95))}", ""),
        ("presses (no class / class)", f"{len(plain_presses)} / {len(class_presses)}", ""),
        ("script runs a press saw start, mean (no class / class)", f"{runs(plain_presses)} / {runs(class_presses)}",
         "1: Step 100 in one run"),
        ("errors", f"{len(errors)}", "0"),
        ("the students' own CPU (this process, class)", f"{100 * own:.0f} % of one core", "")])
    table("(c) the workers' CPU per press", [
        ("no class", f"{1000 * per_plain:.1f} ms ({100 * plain_cpu / plain_time:.0f} % of a core)", ""),
        ("in the class, board open", f"{1000 * per_class:.1f} ms ({100 * class_cpu / class_time:.0f} % of a core)",
         ""),
        ("ratio class / no class", f"{per_class / per_plain:.2f}x", TARGETS["cpu"]),
        ("nginx and redis-server per press (no class / class)",
         f"{per(plain_helpers, plain_presses)} / {per(class_helpers, class_presses)}", ""),
        ("ratio without the board's own CPU", f"{(class_cpu - board_share) / max(1, len(class_presses)) / per_plain:.2f}x",
         TARGETS["cpu"])])
    table(f"(d) one board refresh with {refresh_rows} students (teacher's worker CPU with the board open over "
          f"{args.board_seconds:g} s, less its CPU without it, per fragment run; no student connected)", [
        ("board refreshes", f"{refreshes} in {refresh_time:.1f} s", ""),
        ("worker CPU without the board", f"{100 * base_rate:.1f} % of a core", ""),
        ("CPU per board refresh", f"{1000 * (refresh_cpu - base_rate * refresh_time) / max(1, refreshes):.0f} ms",
         TARGETS["refresh"])])
    table(f"(e) {args.students} idle students, the workers' CPU over {args.idle_seconds:g} s", [
        ("not in a class", f"{100 * plain_idle:.1f} % of one core", ""),
        ("in a class (no teacher page open)", f"{100 * class_idle:.1f} % of one core", TARGETS["idle"])])
    table("the rest of the machine (every other process) during each measurement, share of one core", [
        ("idle students, no class / class", f"{100 * others_plain_idle:.0f} % / {100 * others_class_idle:.0f} %", ""),
        ("presses, no class / class", f"{100 * others_plain:.0f} % / {100 * others_class:.0f} %", ""),
        ("board refreshes", f"{100 * others_board:.0f} %", "")])
    for message in sorted(set(errors))[:5]:
        print(f"  error: {message[:200]}")


# ------------------------------------------------------------------ mode poll
CHOICES = ("as well as one neuron", "as well as the random layer", "somewhere in between")  # pages/lessons/wasted.py


def showing(text: str):
    return lambda client: client.seen(text) is not None


async def all_show(clients: list[Page], text: str, seconds: float = WAIT) -> None:
    """Wait until every page has shown `text` (anew, from now on)."""
    for client in clients:
        client.expect(text)
    with contextlib.suppress(ProtocolError):
        await asyncio.gather(*(until(c, showing(text), seconds) for c in clients))


async def answer(client: Page, round_: int, choice: str, wait: float, errors: list[str]) -> float | None:
    """After `wait` s, pick `choice` in the class vote's radio as a tap does; when its run returned."""
    await asyncio.sleep(wait)
    try:
        _, radio, fragment = client.widget(f"lesson6_vote_{round_}", "radio")
        await client._timed(client._client_state([WidgetState(id=radio.id, string_value=choice)], fragment))
        return time.perf_counter()
    except Exception as error:  # noqa: BLE001  a failed vote is counted, not fatal
        errors.append(f"vote: {error}")
        return None


async def vote_round(server: Server, db: classes.Store, made: classes.NewClass, poll: str, round_: int,
                     students: list[Page], teacher: Page, rng: random.Random, errors: list[str]) -> tuple:
    """One round: (round, answers sent, answers counted, when the last returned, when the Teach page showed them
    all, each student's reveal delay, (the workers' CPU, seconds) from the reveal until the last saw it)."""
    if round_ > 1:
        db.set_state(made.code, made.teacher_key, polls={poll: {"round": round_, "revealed": False}})
        await all_show(students, f"Class vote, round {round_}:")
    final = f"**{len(students)} of {len(students)} answered** in round {round_}"
    teacher.expect(final)
    sent, meter = {s.name: rng.choice(CHOICES) for s in students}, Meter(server)
    returned = await asyncio.gather(*(answer(s, round_, sent[s.name], rng.uniform(0, ANSWER_SPREAD), errors)
                                      for s in students))
    last = max((t for t in returned if t is not None), default=time.perf_counter())
    with contextlib.suppress(ProtocolError):
        await until(teacher, showing(final), 30.0)
    counted = db.votes(made.code, made.teacher_key, poll).get(round_, {})
    reveal, cpu0 = time.perf_counter(), server.cpu()
    for s in students:
        s.expect(REVEALED)
    db.close_round(made.code, made.teacher_key, poll, round_)
    db.set_state(made.code, made.teacher_key, polls={poll: {"round": round_, "revealed": True}})
    with contextlib.suppress(ProtocolError):
        await asyncio.gather(*(until(s, showing(REVEALED)) for s in students))
    reached = [s.seen(REVEALED) - reveal for s in students if s.seen(REVEALED) is not None]
    return (round_, sent, counted, last, teacher.seen(final), reached,
            (server.cpu() - cpu0, time.perf_counter() - reveal), meter.read()[2])


async def poll_mode(server: Server, args: argparse.Namespace) -> None:
    from pages.classroom import (
        poll_id,  # the page's own ids (imports Streamlit and the engine)
    )
    from symbreak.lessons import wasted

    db = classes.open_store(server.store_url)
    await warm_up(server.url, len(server.workers))
    errors: list[str] = []
    load_start = load()
    made = db.new_class()
    students = await seat(server.url, args.students, made.code, errors)
    teacher = Page(server.url, page="teach", query=f"class={made.code}&key={made.teacher_key}")
    await teacher.open()
    _, show, _ = teacher.widget("Show", "button_group")
    if VOTE not in [option.content for option in show.options]:
        sys.exit(f"bench_classroom: the Teach page's 'Show' control offers no {VOTE!r}: {list(show.options)}")
    vote_view = WidgetState(id=show.id)
    vote_view.string_array_value.data.append(VOTE)
    await teacher.rerun([vote_view])
    question = f"{wasted.WASTED_WIDTH} tied neurons on {wasted.WASTED_DATASETS[0]}: how well will they do?"
    poll = poll_id("lesson6", question)
    t0 = time.perf_counter()
    db.set_state(made.code, made.teacher_key, goto={"page": LESSON, "id": 1})
    await all_show(students, f"Class vote: {question}")
    arrived = [s.seen(f"Class vote: {question}") - t0 for s in students if s.seen(f"Class vote: {question}")]
    await asyncio.sleep(POLL_TICK)
    hit_at_goto = sum(1 for s in students if s.other_page_runs)
    rng = random.Random(args.seed)
    rounds = [await vote_round(server, db, made, poll, round_, students, teacher, rng, errors) for round_ in (1, 2)]
    await asyncio.gather(*(c.close() for c in [*students, teacher]))
    db.close_store()

    print(f"\nbench_classroom --mode poll --store {args.store}: {len(students)} students in one class on "
          f"{LESSON}, 2 workers; every student answers within {ANSWER_SPREAD:g} s, twice\n"
          f"load average (1, 5, 15 min): {load_start} at the start, {load()} at the end")
    table("the teacher's 'Everyone to this lesson' (goto) reaches the students' pages", [
        ("p50 / p95 / max", spread(arrived), ""),
        ("students who saw the question", f"{len(arrived)} of {len(students)}", "all"),
        ("students sent a run for the Playground after the switch",
         f"{hit_at_goto} (by the end: {sum(1 for s in students if s.other_page_runs)})",
         "0: a browser clears the lesson then")])
    for round_, sent, counted, last, shown_final, reached, (cpu, took), others in rounds:
        missing = sorted(set(sent) - set(counted))
        wrong = sorted(n for n in counted if n in sent and counted[n] != sent[n])
        table(f"round {round_} ({'the lesson computed at the reveal' if round_ == 1 else 'the lesson cached'})", [
            ("answers sent / counted", f"{len(sent)} / {len(counted)}", TARGETS["count"]),
            ("missing / different / unknown", f"{len(missing)} / {len(wrong)} / {len(set(counted) - set(sent))}",
             "0 / 0 / 0"),
            ("Teach page shows 'N of N answered' after the last answer returned",
             "never (30 s)" if shown_final is None else ms(shown_final - last), TARGETS["final"]),
            ("reveal reaches a student's page, p50 / p95 / max", spread(reached), TARGETS["reveal"]),
            ("students who saw the reveal", f"{len(reached)} of {len(students)}", "all"),
            ("the workers' CPU until the last one saw it",
             f"{cpu:.1f} s in {took:.1f} s ({1000 * cpu / max(1, len(reached)):.0f} ms per student)", ""),
            ("the rest of the machine meanwhile", f"{100 * others:.0f} % of one core", "")])
    print(f"  errors: {len(errors)}")
    for message in sorted(set(errors))[:5]:
        print(f"  error: {message[:200]}")


def run(args: argparse.Namespace) -> None:
    """bench_classroom.py --mode class|poll."""
    with tempfile.TemporaryDirectory() as tmp, class_server(args.store, args.root, Path(tmp)) as server:
        asyncio.run(class_mode(server, args) if args.mode == "class" else poll_mode(server, args))
