"""`make run`, the README's first command, starts one app process kept to one core (and THREADS=N lets it use
every core); the choice itself is a pure function tested on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser_kit import ROOT, free_port, health
from symbreak.serving import single

pytestmark = pytest.mark.classroom
START_SECONDS = 120


def allowed(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Cpus_allowed_list for {pid}")


def children(pid: int) -> list[int]:
    """Every live descendant of pid, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def run_make(tmp_path: Path, *options: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (tmp_path / "make.log").open("w")
    process = subprocess.Popen(["make", "-s", "run", f"PORT={port}", f"PYTHON={sys.executable}", *options],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while health(url, timeout=2) != "ok":
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "make.log").read_text()[-2000:]
        time.sleep(0.3)
    return process, url


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=20)


def server_pid(process: subprocess.Popen) -> int:
    [pid] = [p for p in children(process.pid) if b"streamlit" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return pid


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two cores to choose from")
def test_make_run_keeps_its_process_and_every_thread_to_one_core(tmp_path: Path) -> None:
    process, _ = run_make(tmp_path)
    try:
        pid = server_pid(process)
        threads = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        assert len(threads) > 1
        assert {allowed(t) for t in threads} == {str(min(os.sched_getaffinity(0)))}
        assert Path(f"/proc/{pid}/environ").read_bytes().split(b"\0").count(b"OMP_NUM_THREADS=1") == 1
    finally:
        stop(process)


def test_make_run_threads_lets_one_user_use_every_core(tmp_path: Path) -> None:
    process, _ = run_make(tmp_path, "THREADS=2")
    try:
        pid = server_pid(process)
        every = os.sched_getaffinity(0)
        assert allowed(pid) == (",".join(map(str, sorted(every))) if len(every) == 1 else allowed(os.getpid()))
        assert b"OMP_NUM_THREADS=2" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    finally:
        stop(process)


def test_the_core_is_chosen_only_for_one_thread_with_several_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(single, "allowed_cores", lambda: [2, 3])
    assert single.core_for(1) == 2 and single.core_for(4) is None
    monkeypatch.setattr(single, "allowed_cores", lambda: [5])
    assert single.core_for(1) is None
    assert single.environment(3)["OMP_NUM_THREADS"] == "3"


def test_a_bad_thread_count_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        single.main(["--threads", "0"])
    assert stopped.value.code == 2
    assert "--threads: must be between 1 and 256 (got 0)" in capsys.readouterr().err
