"""The README's set-up on a stock Debian 12: `make run` with only the system python3, make and git.

Run:  .venv/bin/python -m pytest tests/test_stock_system.py -m docker -x -s     (root; a few minutes cold)

1. A Debian bookworm rootfs with `python3 python3-venv make git ca-certificates` is made with
   debootstrap (the image test's recipe, tests/docker_helpers/build_base.py) and cached under
   ~/.cache/symbreak-stock by a hash of its package list; every run works on an overlay of it,
   so the cached copy stays stock.
2. The project's tracked files (`git ls-files`) are copied in; the host's CA bundle and pip
   configuration come along (its local wheel folders and indexes bind-mounted read-only, the
   chroot's pip cache kept under ~/.cache/symbreak-stock), so torch is installed from local disk.
3. `make run` starts in the background as root in the chroot (host network, port from
   STREAMLIT_SERVER_PORT); the host waits for /_stcore/health and loads the Playground in
   headless Chromium: its charts draw and its Step button is there.
4. A second `make deps` reinstalls nothing; without python3-venv, `make run` says so in one line.

Missing debootstrap / chromium or not being root is a FAILURE, never a skip.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from browser_kit import (  # noqa: E402
    APP_IDLE, PLAYGROUND_STEP, assert_no_exception, free_port, health, wait_charts_drawn,
)
from docker_helpers.build_base import RECIPE, _debootstrap  # noqa: E402

pytestmark = pytest.mark.docker

PACKAGES = ["python3", "python3-venv", "make", "git", "ca-certificates"]
# The venv module's Debian packages: removed for the check of the message that names them.
VENV_PACKAGES = ["python3-venv", "python3.11-venv"]
CACHE = Path(os.environ.get("SYMBREAK_STOCK_CACHE", Path.home() / ".cache" / "symbreak-stock"))
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PROJECT = "/root/symbreak"
SCRATCH_DIR, SCRATCH_PREFIX = "/var/tmp", "symbreak-stock-"
PIP_CONFIG_FILES = ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", "/root/.config/pip/pip.conf",
                    "/root/.pip/pip.conf"]
START_TIMEOUT_S = 900
# The first run of a fresh server imports torch and compiles what pip did not: slow on a busy machine.
FIRST_RUN_MS = 180_000
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def log(msg: str) -> None:
    print(f"[test_stock_system {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _require_tools() -> None:
    """Fail, never skip: CI installs what this needs (make test-deps)."""
    missing = [t for t in ("debootstrap", "unshare", "chroot", "git") if not shutil.which(t)]
    if missing:
        pytest.fail("missing: " + ", ".join(missing) + " -- apt-get install -y debootstrap")
    if os.geteuid() != 0:
        pytest.fail("the stock-system test needs root (debootstrap, mounts, chroot)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing -- apt-get install -y chromium")


def stock_rootfs() -> Path:
    """The cached stock bookworm rootfs, made with debootstrap on first use."""
    recipe = {k: RECIPE[k] for k in ("suite", "variant", "arch")} | {"include": PACKAGES}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    root = CACHE / f"rootfs-{key}"
    if root.is_dir():
        log(f"stock rootfs cached: {root}")
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="partial-", dir=CACHE))
    t0 = time.monotonic()
    try:
        _debootstrap(str(partial / "rootfs"), os.environ.get("SYMBREAK_DEBIAN_MIRROR") or None,
                     include=PACKAGES)
        (partial / "rootfs").rename(root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log(f"debootstrapped {root} in {time.monotonic() - t0:.0f}s")
    return root


def _pip_paths() -> tuple[list[str], list[str]]:
    """Local folders (to bind) and files (to copy) the host's pip configuration names."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                         capture_output=True, text=True).stdout
    values = [v for line in out.splitlines() if "=" in line
              for v in line.split("=", 1)[1].strip("'\"").split()]
    values += [v for k, e in os.environ.items() if k.startswith("PIP_") for v in e.split()]
    paths = {v.removeprefix("file://").rstrip("/") for v in values if v.startswith(("/", "file:///"))}
    # A PEP 503 index's pages link to files beside its simple/ folder: bind the index's root.
    paths = {os.path.dirname(p) if os.path.basename(p) == "simple" else p for p in paths}
    dirs = sorted(p for p in paths if os.path.isdir(p))
    files = sorted(p for p in paths | set(PIP_CONFIG_FILES) if os.path.isfile(p))
    return dirs, files


class StockChroot:
    """An overlay of the stock rootfs with the project copied in; unmounted and dropped on exit."""

    def __init__(self, lower: Path, scratch: Path):
        self.lower = lower
        self.scratch = scratch
        self.root = scratch / "merged"
        self.binds, files = _pip_paths()
        self.copies = sorted(set(files) | {CA_BUNDLE})

    def __enter__(self) -> "StockChroot":
        for d in ("upper", "work", "merged"):
            (self.scratch / d).mkdir(parents=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.lower},upperdir={self.scratch / 'upper'},"
                        f"workdir={self.scratch / 'work'}", str(self.root)], check=True)
        try:
            self._populate()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _populate(self) -> None:
        (self.root / "etc/hosts").write_text(HOSTS)
        resolv = self.root / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)
        shutil.copy("/etc/resolv.conf", resolv)
        for f in self.copies:
            dest = self.root / f.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.unlink(missing_ok=True)
            shutil.copy(f, dest)
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.split("\0")
        dest = self.root / PROJECT.lstrip("/")
        files = [rel for rel in tracked if rel and (REPO / rel).is_file()]
        for rel in files:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
        log(f"{len(files)} tracked files copied to {PROJECT}; pip's local folders "
            f"bound read-only: {self.binds}")

    def __exit__(self, *exc) -> None:
        if subprocess.run(["umount", str(self.root)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def command(self, shell: str, **env: str) -> list[str]:
        """Host argv that runs `shell` in the project folder of the chroot, as root."""
        r = shlex.quote(str(self.root))
        pip_cache = CACHE / "pip-cache"
        pip_cache.mkdir(parents=True, exist_ok=True)
        mounts = [f"mount -t proc proc {r}/proc", f"mount --rbind /dev {r}/dev",
                  f"mount -t tmpfs -o mode=1777 tmpfs {r}/dev/shm",
                  f"mkdir -p {r}/root/.cache/pip",
                  f"mount --bind {shlex.quote(str(pip_cache))} {r}/root/.cache/pip"]
        for d in self.binds:
            q = shlex.quote(d)
            mounts += [f"mkdir -p {r}{q}", f"mount --bind {q} {r}{q}",
                       f"mount -o remount,bind,ro {r}{q}"]
        environ = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
        environ |= {k: v for k, v in os.environ.items() if k.startswith("PIP_")} | env
        inner = " ".join(["exec", "chroot", r, "/usr/bin/env", "-i"]
                         + [shlex.quote(f"{k}={v}") for k, v in environ.items()]
                         + ["/bin/sh", "-c", shlex.quote(f"cd {PROJECT} && {shell}")])
        return ["unshare", "--mount", "--propagation", "private", "--fork", "/bin/sh", "-c",
                " && ".join(mounts + [inner])]

    def run(self, shell: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(shell, **env), capture_output=True, text=True,
                              timeout=timeout)


def _stop(proc: subprocess.Popen) -> None:
    """End `make run` and the server it started (one process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=20)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    """One stock chroot for the module, its `make run` serving on a free port."""
    _require_tools()
    for stale in Path(SCRATCH_DIR).glob(SCRATCH_PREFIX + "*"):  # left by an interrupted run
        subprocess.run(["umount", "-l", str(stale / "merged")], capture_output=True)
        shutil.rmtree(stale, ignore_errors=True)
    lower = stock_rootfs()
    port = free_port()
    logf = tmp_path_factory.mktemp("stock") / "make-run.log"
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=SCRATCH_DIR))
    scratch.rmdir()
    with StockChroot(lower, scratch) as chroot, open(logf, "w") as out:
        t0 = time.monotonic()
        log(f"make run (STREAMLIT_SERVER_PORT={port}), log: {logf}")
        proc = subprocess.Popen(chroot.command("make run", STREAMLIT_SERVER_PORT=str(port)),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while health(f"http://127.0.0.1:{port}") != "ok":
                if proc.poll() is not None:
                    pytest.fail(f"make run exited ({proc.returncode}):\n{logf.read_text()[-4000:]}")
                if time.monotonic() - t0 > START_TIMEOUT_S:
                    pytest.fail(f"no /_stcore/health in {START_TIMEOUT_S}s:\n"
                                f"{logf.read_text()[-4000:]}")
                time.sleep(1)
            log(f"make run: health ok after {time.monotonic() - t0:.0f}s")
            yield {"chroot": chroot, "port": port, "log": logf}
        finally:
            _stop(proc)


def test_make_run_serves_the_playground(stock):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(FIRST_RUN_MS)
            page.goto(f"http://127.0.0.1:{stock['port']}/")
            page.wait_for_selector(APP_IDLE)
            wait_charts_drawn(page, timeout=FIRST_RUN_MS)
            assert_no_exception(page)
            main = page.get_by_test_id("stMainBlockContainer")
            assert main.locator(".js-plotly-plot .main-svg").count() > 0
            main.get_by_role("button", name="Step 1", exact=True).click()
            expect(main.get_by_text(PLAYGROUND_STEP).first).to_have_text(
                re.compile(r"^Step 1 ·"), timeout=FIRST_RUN_MS)
            wait_charts_drawn(page, timeout=FIRST_RUN_MS)
            assert_no_exception(page)
            shot = REPO / "artifacts" / "stock-system-playground.png"
            shot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            log(f"Playground drawn and stepped; screenshot: {shot}")
        finally:
            browser.close()
    text = stock["log"].read_text()
    assert "Traceback" not in text, text[-4000:]


def test_second_make_deps_reinstalls_nothing(stock):
    stamp = stock["chroot"].root / PROJECT.lstrip("/") / ".venv/bin/.symbreak-deps"
    before = stamp.stat().st_mtime_ns
    done = stock["chroot"].run("make deps")
    out = done.stdout + done.stderr
    log(f"second make deps: {out.strip()!r}")
    assert done.returncode == 0, out
    assert "pip" not in out and "venv" not in out, out
    assert stamp.stat().st_mtime_ns == before


def test_missing_venv_is_named_in_one_line(stock, tmp_path):
    with StockChroot(stock["chroot"].lower, tmp_path / "novenv") as chroot:
        removed = chroot.run("dpkg -r " + " ".join(VENV_PACKAGES), timeout=120)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        done = chroot.run("make run", timeout=120)
        assert not (chroot.root / PROJECT.lstrip("/") / ".venv").exists()
    lines = (done.stdout + done.stderr).strip().splitlines()
    log(f"make run without {' '.join(VENV_PACKAGES)}: {lines}")
    assert done.returncode != 0 and len(lines) == 1, lines
    assert "apt-get install python3-venv" in lines[0], lines
