"""`symbreak serve`: a class on one machine, N Streamlit workers on private ports behind Debian's nginx on one port.

One Python process trains on one core, so a class needs a process per core. Each browser is pinned to one worker
by a cookie nginx sets (a Streamlit session lives in one process: its websocket, uploads and downloads must all
reach it). Workers are started first and get traffic only once /_stcore/health answers; a worker that dies is
started again on its port while nginx sends its students' new requests to the others. With one worker there is
nothing to balance: it listens on the public port itself, through deploy/asgi.py for the security headers.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from symbreak.serving.cpus import cores_for, cpu_count
from symbreak.serving.headers import security_headers

NGINX = "/usr/sbin/nginx"
TEMPLATE = Path(__file__).with_name("nginx.conf.in")
DEFAULT_APP = Path(__file__).resolve().parents[2] / "app.py"
# The app wrapped in the security headers, for a worker that answers browsers itself; it serves $SYMBREAK_APP.
HEADERS_ENTRY = Path(__file__).resolve().parents[2] / "deploy" / "asgi.py"
APP_ENV = "SYMBREAK_APP"
DEFAULT_PORT = 8501
PORT_ENV = "STREAMLIT_SERVER_PORT"
# How many CPUs to serve with, where the process cannot see its limit (or to leave some free).
CPUS_ENV = "SYMBREAK_CPUS"
DESCRIPTION = ("Serve a class: one app process per core behind Debian's nginx on one port, "
               "each browser kept on one process.")
COOKIE = "symbreak_worker"
HEALTH = "/_stcore/health"
START_SECONDS = 120.0
WATCH_SECONDS = 0.5
# A worker that keeps dying (a broken app) is started again at most this often.
RESTART_PAUSE_SECONDS = 2.0
# nginx stops sending to a worker for this long after it refused a connection, then tries it again.
FAIL_TIMEOUT = "3s"
# Streamlit's own upload cap is 5 MB (.streamlit/config.toml); the proxy lets a bit more through so that Streamlit,
# not nginx, tells the student the file is too big.
MAX_BODY = "8m"
# glibc gives each thread (every session's script runs on its own) a malloc arena, up to 8 per core, and rarely
# gives back what is freed in one: two arenas, set before the process starts, keep a quiet server small.
MALLOC_ARENA_MAX = "2"
RESTARTED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>symbreak: reload the page</title></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 4rem auto; font-size: 1.2rem">
<h1>This worker restarted: reload the page</h1>
<p>The server behind this page is starting again. Reload in a few seconds to get a fresh session.</p>
</body></html>
"""


class ServeError(Exception):
    """A problem the user can fix (a missing nginx, a busy port), reported as one line."""


class _Template(string.Template):
    """nginx uses $ for its own variables: the template's fields are written @@name."""

    delimiter = "@@"


# A worker's program: torch (through symbreak, with one OpenMP thread), the figure builders, plotly and pandas
# imported before Streamlit's command line starts the server.
# Out of Streamlit's legacy pages/ mode before the first session (there a fresh server's deep link to a lesson
# showed "Page not found"): app.py's st.navigation names every page.
PRELOAD = ("import symbreak, symbreak.figures.live, symbreak.figures.tabs, plotly.graph_objects, pandas\n"
           "from streamlit.runtime.pages_manager import PagesManager\n"
           "PagesManager.uses_pages_directory = False\n"
           "from streamlit.web.cli import main\n"
           "main(prog_name='streamlit')")


def env_number(name: str, default: int) -> int:
    """A whole number from the environment, at least 1 (`default` when unset)."""
    given = os.environ.get(name, "").strip()
    if given and (not given.isdigit() or int(given) < 1):
        raise ServeError(f"{name} must be a whole number, at least 1 (got {given!r})")
    return int(given) if given else default


def local_host(bind: str) -> str:
    """Where this machine reaches a server listening on `bind`."""
    return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def healthy(port: int, timeout: float = 2.0, host: str = "127.0.0.1") -> bool:
    """Whether the Streamlit server on host:port answers its health check with 'ok'."""
    try:
        with urllib.request.urlopen(f"http://{f'[{host}]' if ':' in host else host}:{port}{HEALTH}",
                                    timeout=timeout) as reply:
            return reply.read().strip() == b"ok"
    except OSError:
        return False


@dataclass
class Worker:
    """One `streamlit run app.py`, restarted on the same port when it dies.

    Behind nginx it listens on a private localhost port (nginx is its one client); alone, on the public address
    and port, serving the app through `HEADERS_ENTRY`.
    """

    port: int
    app: Path
    log: Path
    env: dict[str, str]
    core: int | None = None
    address: str = "127.0.0.1"
    alone: bool = False
    flags: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    restarts: int = 0
    started: float = 0.0

    def command(self) -> list[str]:
        """The worker's command line: `streamlit run`, with the app's heavy modules loaded first (PRELOAD).

        Otherwise the first student on each worker waits about 2 s for them, and so does everyone else on that
        worker meanwhile. With a `core`, the process and every thread it starts keep to that core (see
        `cores_for`). Streamlit's own `flags` come before serve's, which win.
        """
        pin = f"import os\nos.sched_setaffinity(0, {{{self.core}}})\n" if self.core is not None else ""
        script = HEADERS_ENTRY if self.alone else self.app
        return [sys.executable, "-c", pin + PRELOAD, "run", str(script), *self.flags, f"--server.port={self.port}",
                f"--server.address={self.address}", "--server.headless=true", "--browser.gatherUsageStats=false"]

    def start(self) -> None:
        """Start the process (its output goes to its log, appended across restarts)."""
        env = {**self.env, APP_ENV: str(self.app)} if self.alone else self.env
        with self.log.open("a") as out:
            self.process = subprocess.Popen(self.command(), cwd=self.app.parent, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.monotonic()

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after `timeout` seconds)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_healthy(workers: list[Worker], seconds: float = START_SECONDS) -> None:
    """Block until every worker answers its health check; a worker that exits or stays silent is an error."""
    deadline = time.monotonic() + seconds
    waiting = list(workers)
    while waiting:
        for worker in list(waiting):
            if not worker.alive():
                tail = worker.log.read_text(errors="replace")[-1500:]
                raise ServeError(f"worker on port {worker.port} exited with {worker.process.returncode}:\n{tail}")
            if healthy(worker.port, host=local_host(worker.address)):
                waiting.remove(worker)
        if waiting and time.monotonic() > deadline:
            raise ServeError(f"workers on ports {[w.port for w in waiting]} did not answer {HEALTH} "
                             f"within {seconds:.0f} s (logs in {waiting[0].log.parent})")
        time.sleep(0.2)


def _user_line() -> str:
    """nginx's `user` directive: needed only when it starts as root (its workers then drop to nobody)."""
    if os.geteuid() != 0:
        return ""
    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"


def render_config(directory: Path, ports: list[int], port: int, bind: str = "0.0.0.0") -> str:
    """The nginx configuration for workers on localhost `ports`, listening on bind:port, files under directory."""
    servers = [f"127.0.0.1:{p}" for p in ports]
    down = f"max_fails=1 fail_timeout={FAIL_TIMEOUT}"
    routes = "\n".join(f'        "{p}" symbreak_{p};' for p in ports)
    pool = "\n".join(f"        server {s} {down};" for s in servers)
    pinned = "\n".join(
        f"    upstream symbreak_{p} {{\n        server {s} {down};\n"
        + "".join(f"        server {other} {down} backup;\n" for other in servers if other != s) + "    }"
        for p, s in zip(ports, servers))
    headers = "\n".join(f"        add_header {name} \"{value}\" always;" for name, value in security_headers().items())
    listen = f"[{bind}]" if ":" in bind else bind
    return _Template(TEMPLATE.read_text()).substitute(
        dir=str(directory), user_line=_user_line(), cookie=COOKIE, routes=routes, pool=pool, pinned=pinned,
        bind=listen, port=port, max_body=MAX_BODY, headers=headers)


def write_nginx_files(directory: Path, ports: list[int], port: int, bind: str) -> Path:
    """Write nginx.conf and the 'reload the page' page into directory; return the config's path."""
    directory.chmod(0o755)  # nginx's workers (nobody, when started as root) read the page from here
    page = directory / "_symbreak" / "restarted.html"
    page.parent.mkdir(exist_ok=True)
    page.write_text(RESTARTED_PAGE)
    conf = directory / "nginx.conf"
    conf.write_text(render_config(directory, ports, port, bind))
    return conf


def nginx_command(conf: Path) -> list[str]:
    """nginx in the foreground with every path (prefix, error log, pid) inside the config's directory."""
    return [NGINX, "-p", str(conf.parent), "-e", str(conf.parent / "error.log"), "-c", str(conf)]


def check_nginx(conf: Path) -> None:
    """`nginx -t` on the rendered config: a busy port or a bad bind address is told before anything runs."""
    if not Path(NGINX).exists():
        raise ServeError(f"nginx is missing at {NGINX}: install it (Debian/Ubuntu: apt-get install nginx)")
    done = subprocess.run([*nginx_command(conf), "-t", "-q"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServeError("nginx refused the configuration: " + done.stderr.strip().splitlines()[-1])


def worker_env(cookie_secret: str) -> dict[str, str]:
    """The environment of every worker: one torch thread, MALLOC_ARENA_MAX arenas, and one cookie secret shared by
    all of them (so the XSRF cookie a browser got from one worker still holds after that worker restarts)."""
    env = dict(os.environ)
    env.update({"STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret, "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": MALLOC_ARENA_MAX,
                "STREAMLIT_LOGGER_HIDE_WELCOME_MESSAGE": "true"})
    return env


class Classroom:
    """The workers and nginx of one `symbreak serve`, with the watchdog that restarts dead workers.

    With one worker there is no nginx: the worker listens on `bind`:`port` itself and adds the headers.
    """

    def __init__(self, workers: int, port: int, bind: str = "0.0.0.0", app: Path = DEFAULT_APP,
                 first_worker_port: int = 0, flags: list[str] | None = None) -> None:
        if workers < 1:
            raise ServeError(f"--workers must be at least 1, not {workers}")
        if not app.exists():
            raise ServeError(f"--app: no such file {app}")
        self.port = port
        self.bind = bind
        self.stopping = False
        # Under the system's temporary directory, where nginx's unprivileged workers can reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="symbreak-serve-"))
        env, alone = worker_env(secrets.token_hex(32)), workers == 1
        ports = [port] if alone else ([first_worker_port + i for i in range(workers)] if first_worker_port
                                      else [free_port() for _ in range(workers)])
        self.workers = [Worker(p, app, self.dir / f"worker-{p}.log", env, core, bind if alone else "127.0.0.1",
                               alone, list(flags or [])) for p, core in zip(ports, cores_for(workers))]
        self.nginx: subprocess.Popen | None = None
        self.conf = None if alone else write_nginx_files(self.dir, ports, port, bind)

    def start(self) -> None:
        """Start every worker, wait for their health checks, then start nginx (if any) and wait until it answers."""
        if self.conf is not None:
            check_nginx(self.conf)
        self._check_port_free()
        for worker in self.workers:
            worker.start()
        wait_healthy(self.workers)
        if self.conf is None:
            return
        with (self.dir / "nginx.out").open("a") as out:
            self.nginx = subprocess.Popen(nginx_command(self.conf), stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        deadline = time.monotonic() + 10
        while not self._proxy_answers():
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                raise ServeError("nginx did not start: " + (self.dir / "error.log").read_text()[-1000:])
            time.sleep(0.1)

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET6 if ":" in self.bind else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.bind, self.port))
            except OSError as error:
                raise ServeError(f"--port {self.port}: cannot listen on {self.bind} ({error.strerror}); "
                                 "choose another port or stop the server that has it") from None

    def _proxy_answers(self) -> bool:
        try:
            with socket.create_connection((local_host(self.bind), self.port), timeout=1):
                return True
        except OSError:
            return False

    def watch_once(self) -> list[int]:
        """Restart every worker that has exited; return their ports (nginx skips them until they answer)."""
        restarted = []
        for worker in self.workers:
            if self.stopping:
                break
            if not worker.alive() and time.monotonic() - worker.started >= RESTART_PAUSE_SECONDS:
                worker.restarts += 1
                worker.start()
                restarted.append(worker.port)
        return restarted

    def stop(self) -> None:
        """Stop nginx, then the workers (and keep the watchdog from starting them again)."""
        self.stopping = True
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        for worker in self.workers:
            worker.stop()

    def run(self) -> int:
        """Watch the workers until nginx exits or the class is stopped; return nginx's exit status (0 without)."""
        while not self.stopping and (self.nginx is None or self.nginx.poll() is None):
            for port in self.watch_once():
                print(f"symbreak serve: worker on port {port} exited; started again", file=sys.stderr, flush=True)
            time.sleep(WATCH_SECONDS)
        return self.nginx.returncode if self.nginx is not None else 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, help=f"Streamlit processes, one core each (default: ${CPUS_ENV}, else "
                        "the fewer of this process's cores and its cgroup's CPU quota); 1 runs without nginx")
    parser.add_argument("--port", type=int, help=f"the port students open (default: ${PORT_ENV}, else {DEFAULT_PORT})")
    parser.add_argument("--bind", default="0.0.0.0",
                        help="address to listen on (default %(default)s: every network; 127.0.0.1: this machine only)")
    parser.add_argument("--first-worker-port", type=int, default=0,
                        help="workers behind nginx listen on localhost from this port up (default: free ports)")
    parser.add_argument("--app", type=Path, default=DEFAULT_APP, help="the Streamlit script (default: the app)")
    parser.set_defaults(streamlit_flags=[])


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `serve` command to the `symbreak` command line."""
    parser = commands.add_parser("serve", help="serve a class: N app processes behind nginx on one port",
                                 description=DESCRIPTION)
    _add_arguments(parser)
    return parser


def main(args: argparse.Namespace) -> int:
    """Run `symbreak serve` until interrupted; exit status 2 with one line for a problem the user can fix."""
    try:
        workers = (env_number(CPUS_ENV, 0) or cpu_count()) if args.workers is None else args.workers
        port = env_number(PORT_ENV, DEFAULT_PORT) if args.port is None else args.port
        classroom = Classroom(workers, port, args.bind, args.app.resolve(), args.first_worker_port,
                              args.streamlit_flags)
    except ServeError as error:
        print(f"symbreak: error: {error}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C: the workers and nginx too
    try:
        classroom.start()
        where = f"http://{'localhost' if args.bind in ('0.0.0.0', '::') else args.bind}:{port}"
        print(f"symbreak serve: {len(classroom.workers)} workers behind {where}" if classroom.conf else
              f"symbreak serve: 1 worker on {where}", f"(logs in {classroom.dir})", flush=True)
        return classroom.run()
    except ServeError as error:
        print(f"symbreak: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        classroom.stop()
        shutil.rmtree(classroom.dir, ignore_errors=True)


def command_line(argv: list[str] | None = None) -> int:
    """`python -m symbreak.serving.serve`, the image's entry point: serve's flags, then any of Streamlit's own
    (`docker run IMAGE --theme.base=dark`), which every worker gets."""
    cli = argparse.ArgumentParser(prog="python -m symbreak.serving.serve", description=DESCRIPTION)
    _add_arguments(cli)
    args, extra = cli.parse_known_args(argv)
    args.streamlit_flags = extra
    unknown = [token for token in args.streamlit_flags if token.startswith("-") and "." not in token.split("=")[0]]
    if unknown:
        cli.error(f"unrecognized arguments: {' '.join(unknown)} (Streamlit's own look like --theme.base=dark)")
    return main(args)


if __name__ == "__main__":
    sys.exit(command_line())
