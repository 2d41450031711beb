"""A real redis-server for the class store's tests: one for the session, and one a test may stop; and the store
fixtures that run each test on both backends, SQLite in a temporary folder and that redis-server.

Debian's redis-server runs on a free loopback port with no persistence. A missing redis-server fails the tests
that need it with what to install: never a skip, never a stand-in.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis

from symbreak.serving.classes import NewClass, Store, open_store

START_SECONDS = 10.0


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    """Whether a Redis on `port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis(directory: Path, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A redis-server on `port` or a free one (its log in `directory`), as its URL and process; stopped after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: install it with `apt-get install -y redis-server` "
                    "(`make test-deps` does)")
    port = port or free_port()
    log = directory / f"redis-{port}.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                   "no", "--dir", str(directory)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server shared by the session's tests (each test empties it first)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url


class DoomedRedis:
    """A redis-server of one test's own, which the test stops and may start again on the same port."""

    def __init__(self, directory: Path, stack: ExitStack) -> None:
        self._directory, self._stack = directory, stack
        self.url, self._server = stack.enter_context(running_redis(directory))

    def stop(self) -> None:
        self._server.terminate()
        self._server.wait(timeout=10)

    def start_again(self) -> None:
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        self.url, self._server = self._stack.enter_context(running_redis(self._directory, port))


@pytest.fixture
def doomed_redis(tmp_path: Path) -> Iterator[DoomedRedis]:
    """A redis-server that the test may stop and start again."""
    with ExitStack() as stack:
        yield DoomedRedis(tmp_path, stack)


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend; the Redis database is emptied first."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/classes.sqlite3"
    found = request.getfixturevalue("redis_url")
    redis.Redis.from_url(found).flushdb()
    return found


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store at `store_url`, let go after the test."""
    opened = open_store(store_url)
    yield opened
    opened.close_store()


@pytest.fixture
def room(store: Store) -> tuple[Store, NewClass]:
    """The store with one class open in it."""
    return store, store.new_class()
