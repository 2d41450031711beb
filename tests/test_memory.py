"""What a closed session held is given back: a dataset made from an upload lives only while a session that
uploaded it is alive, built-in datasets stay shared under the cache's byte bound, and the janitor drops a closed
session's state and uploads once Streamlit's disconnected-session TTL has passed.

bench/bench_memory.py measures the same against a real server (the RSS of 50 sessions opening and closing).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from pages import session
from pages.session import DatasetCache, SessionJanitor, dataset_bytes
from symbreak import Config
from symbreak.data.builtin import make_builtin

TTL = 120.0


def xor(n: int):
    return make_builtin("xor", n_samples=n, noise=0.1, test_fraction=0.2, seed=0)


def csv_bytes(seed: int, rows: int = 80) -> bytes:
    """A small CSV of two features and a 0/1 target, different for every seed."""
    x = np.random.default_rng(seed).normal(size=(rows, 2))
    lines = ["a,b,label"] + [f"{a:.6f},{b:.6f},{int(a * b > 0)}" for a, b in x]
    return ("\n".join(lines) + "\n").encode()


def test_an_upload_entry_goes_when_its_last_owner_is_released_and_a_builtin_stays():
    cache = DatasetCache(10 * 2**20)
    builtin = cache.get("builtin", lambda: xor(100))
    mine = cache.get("upload-a", lambda: xor(200), owner="alice")
    shared = cache.get("upload-b", lambda: xor(300), owner="alice")
    assert cache.get("upload-b", lambda: xor(300), owner="bob") is shared, "the same CSV is one object"
    assert len(cache) == 3

    assert cache.release("alice") == 1, "only the entry no other session holds goes"
    assert len(cache) == 2 and cache.bytes == dataset_bytes(builtin) + dataset_bytes(shared)
    made = []
    assert cache.get("upload-a", lambda: made.append(1) or xor(200), owner="carol") is not mine, "made again"
    assert made == [1]

    assert cache.release("bob") == 1 and cache.release("carol") == 1
    assert len(cache) == 1 and cache.bytes == dataset_bytes(builtin)
    assert cache.get("builtin", lambda: xor(100)) is builtin, "a built-in is never released with a session"
    assert cache.release("nobody") == 0 and len(cache) == 1


def test_an_owned_entry_is_still_bounded_in_bytes():
    one = dataset_bytes(xor(100))
    cache = DatasetCache(2 * one)
    cache.get("upload-a", lambda: xor(100), owner="alice")
    cache.get("b", lambda: xor(100))
    cache.get("c", lambda: xor(100))  # over the bound: alice's, the least recently used, goes
    assert len(cache) == 2 and cache.bytes == 2 * one
    assert cache.release("alice") == 0, "an entry dropped for its bytes is not dropped twice"
    assert len(cache) == 2 and cache.bytes == 2 * one


def test_a_session_owns_the_dataset_of_its_upload_and_not_a_builtin(monkeypatch: pytest.MonkeyPatch):
    cache = DatasetCache(session.MAX_DATASET_CACHE_BYTES)
    monkeypatch.setattr(session, "DATASETS", cache)
    ctx = types.SimpleNamespace(session_id="alice")
    monkeypatch.setattr(session, "get_script_run_ctx", lambda: ctx)
    upload = Config().with_flat(dataset="csv", path="mine.csv")

    data = session.cached_dataset(upload, csv_bytes(0))
    assert session.cached_dataset(upload, csv_bytes(0)) is data
    session.cached_dataset(Config(), None)
    assert len(cache) == 2
    assert cache.release("alice") == 1, "alice's upload goes with her session"
    assert len(cache) == 1 and cache.bytes == dataset_bytes(session.cached_dataset(Config(), None))


class FakeRuntime:
    """The part of Streamlit's Runtime the janitor uses: which sessions are active, and their uploaded files."""

    def __init__(self, active: set[str]) -> None:
        self.active = active
        self.files_removed: list[str] = []
        self.uploaded_file_mgr = types.SimpleNamespace(remove_session_files=self.files_removed.append)

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active


def test_the_janitor_frees_a_closed_session_after_the_ttl_and_its_uploads(monkeypatch: pytest.MonkeyPatch):
    runtime = FakeRuntime({"alice", "bob"})
    monkeypatch.setattr(session.Runtime, "exists", staticmethod(lambda: True))
    monkeypatch.setattr(session.Runtime, "instance", staticmethod(lambda: runtime))
    monkeypatch.setattr(session.st_config, "get_option", lambda name: TTL)
    cache = DatasetCache(10 * 2**20)
    janitor = SessionJanitor(cache)
    released = []
    monkeypatch.setattr(janitor, "release_memory", lambda: released.append(True))
    sessions = {name: types.SimpleNamespace(session_state={"playground.trainer": object()}) for name in runtime.active}
    janitor._sessions = {name: (lambda s=s: s) for name, s in sessions.items()}
    cache.get("alice.csv", lambda: xor(100), owner="alice")
    cache.get("bob.csv", lambda: xor(100), owner="bob")
    cache.get("builtin", lambda: xor(100))

    assert janitor.sweep(now=0.0) == 0
    runtime.active.discard("alice")
    assert janitor.sweep(now=10.0) == 0, "a closed session may still reconnect within the TTL"
    assert janitor.sweep(now=10.0 + TTL - 1) == 0 and len(cache) == 3 and not released
    assert janitor.sweep(now=10.0 + TTL) == 1
    assert sessions["alice"].session_state == {} and sessions["bob"].session_state
    assert runtime.files_removed == ["alice"] and released == [True]
    assert len(cache) == 2 and cache.get("bob.csv", lambda: xor(999), owner="bob").x_train.shape[0] == 80
    assert janitor.sweep(now=20.0 + TTL) == 0, "a freed session is freed once"


def test_every_served_app_gets_the_same_malloc_arena_limit():
    """glibc reads MALLOC_ARENA_MAX when the process starts, so each way of serving the app sets it."""
    import re
    from pathlib import Path

    import yaml
    from test_docker import dockerfile_instructions

    from symbreak.serving.serve import MALLOC_ARENA_MAX, worker_env

    root = Path(__file__).resolve().parent.parent
    assert worker_env("secret")["MALLOC_ARENA_MAX"] == MALLOC_ARENA_MAX
    image_env = [word for ins, args in dockerfile_instructions() if ins == "ENV" for word in args.split()]
    assert f"MALLOC_ARENA_MAX={MALLOC_ARENA_MAX}" in image_env
    deployment = next(d for d in yaml.safe_load_all((root / "deploy/kubernetes/deployment.yaml").read_text())
                      if d and d.get("kind") == "Deployment")
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert {"name": "MALLOC_ARENA_MAX", "value": MALLOC_ARENA_MAX} in container["env"], container["name"]
    compose = yaml.safe_load((root / "deploy/compose/compose.yaml").read_text())
    assert compose["services"]["symbreak"]["environment"]["MALLOC_ARENA_MAX"] == MALLOC_ARENA_MAX
    run = re.search(r"^run:.*\n\t(.*)$", (root / "Makefile").read_text(), re.MULTILINE)[1]
    assert "-m symbreak.serving.single" in run  # make run's process: its environment is single.environment's
    from symbreak.serving.single import environment

    assert environment(1)["MALLOC_ARENA_MAX"] == MALLOC_ARENA_MAX
