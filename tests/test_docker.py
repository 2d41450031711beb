"""Docker packaging: static checks of Dockerfile / config, then a real image build.

Run:  python -m pytest tests/test_docker.py -m docker -x -s     (root; 3-6 min cold)

No Docker engine and no pullable base image here, so the build test
1. builds a stand-in for python:3.11-slim-bookworm from Debian packages
   (tests/docker_helpers/build_base.py: debootstrap bookworm + python3.11,
   python3-pip, python3-venv; cached in podman's store by a recipe hash);
2. `pip download`s the pinned requirements on the host (CPU torch comes from
   local disk) into wheels/ of a temporary copy of the repo (the build
   context), cached between runs by a hash of the pins;
3. `podman build --isolation chroot --build-arg BASE=<stand-in>
   --build-arg PIP_EXTRA="--no-index --find-links /wheels" -v wheels:/wheels`
   (2 and 3: tests/docker_helpers/build_image.py);
4. starts the image's ENTRYPOINT as its USER in its WORKDIR via chroot
   (tests/docker_helpers/run_image.py; `podman run` fails on this kernel),
   waits for /_stcore/health, runs the image's HEALTHCHECK, and loads the
   page in headless Chromium;
5. starts it again with SYMBREAK_CPUS=2 (a cgroup quota cannot be set through
   chroot): two workers, each on a core of its own, behind nginx with cookie
   stickiness; and with SYMBREAK_CPUS=1: one worker, no nginx. The headers
   every time.

Missing podman / debootstrap / chromium is a FAILURE, never a skip.

Environment knobs:
  SYMBREAK_DOCKER_OVERLAY=DIR  files copied over the build context after the repo
                               (e.g. a throwaway app.py / requirements.txt while
                               the real ones are not written yet)
  SYMBREAK_DOCKER_ONLINE=1     only torch from the host's wheels; everything else is
                               downloaded from PyPI inside the build (slower)
  SYMBREAK_DOCKER_CACHE=DIR    where pre-downloaded wheels are cached
                               (default ~/.cache/symbreak-docker)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from browser_kit import free_port, health
from docker_helpers import build_image
from docker_helpers.build_base import ensure_base_image
from docker_helpers.run_image import ImageRootfs, Server, http_get, proc_status

pytestmark = pytest.mark.docker

IMAGE = "localhost/symbreak:test"
CHROMIUM = "/usr/bin/chromium"
ENTRYPOINT = ["python", "-m", "symbreak.serving.serve"]
APP_UID = "10001"
# What the image's entry point (nginx, or deploy/asgi.py with one worker) adds to every response.
IMAGE_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# .streamlit/config.toml for a classroom server.
EXPECTED_CONFIG = {
    ("browser", "gatherUsageStats"): False,
    ("server", "headless"): True,
    ("server", "fileWatcherType"): "none",
    ("server", "maxUploadSize"): 5,
    ("server", "enableXsrfProtection"): True,
    ("client", "toolbarMode"): "viewer",
    ("client", "showErrorDetails"): "none",
    ("runner", "postScriptGC"): False,
}


log = build_image.log


def overlay_dir() -> Path | None:
    d = os.environ.get("SYMBREAK_DOCKER_OVERLAY")
    return Path(d) if d else None


def source_file(rel: str) -> Path:
    """A file of the build context: from the overlay if it has it, else the repo."""
    ov = overlay_dir()
    if ov is not None and (ov / rel).exists():
        return ov / rel
    p = REPO / rel
    if not p.exists():
        pytest.fail(f"{rel} missing from {REPO} (and no SYMBREAK_DOCKER_OVERLAY provides it)")
    return p


# ----------------------------------------------------------------------------- static
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, args) pairs, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            ins, _, args = buf.strip().partition(" ")
            out.append((ins.upper(), args.strip()))
        buf = ""
    return out


def test_dockerfile_static_facts():
    ins = dockerfile_instructions()
    names = [i for i, _ in ins]
    args = dict((i, a) for i, a in ins)  # last one wins, like Docker

    # base image as a build arg, declared before FROM
    assert ins[0] == ("ARG", "BASE=python:3.11-slim-bookworm"), ins[0]
    assert ins[1] == ("FROM", "${BASE}"), ins[1]
    assert any(i == "ARG" and a.startswith("PIP_EXTRA") for i, a in ins), "no ARG PIP_EXTRA"

    # non-root user
    user = args.get("USER", "")
    assert user, "no USER instruction"
    assert user.split(":")[0] not in ("0", "root"), f"USER is root: {user}"

    assert args.get("WORKDIR") == "/app"
    assert "8501" in args.get("EXPOSE", "").split()

    hc = args.get("HEALTHCHECK", "")
    assert "/_stcore/health" in hc and "urllib" in hc and "8501" in hc, hc
    assert "curl" not in hc and "wget" not in hc

    assert json.loads(args["ENTRYPOINT"]) == ENTRYPOINT  # exec form = a JSON array: SIGTERM reaches serve
    apt = next(a for i, a in ins if i == "RUN" and "apt-get install" in a)
    assert "--no-install-recommends nginx" in apt and "rm -rf /var/lib/apt/lists/*" in apt, apt
    assert "XDG_DATA_HOME=/data" in " ".join(a for i, a in ins if i == "ENV")
    assert args.get("VOLUME") == "/data" and any(i == "RUN" and "chown 10001:10001 /data" in a for i, a in ins)

    # CPU-only torch, installed before the code is copied, by its own layer
    torch_runs = [n for n, (i, a) in enumerate(ins) if i == "RUN" and "torch==" in a]
    assert torch_runs, "no RUN installing torch=="
    t = torch_runs[0]
    assert "download.pytorch.org/whl/cpu" in (REPO / "Dockerfile").read_text()
    assert "${TORCH_INDEX}" in ins[t][1] and "${PIP_EXTRA}" in ins[t][1]
    copy_all = [n for n, (i, a) in enumerate(ins) if i == "COPY" and re.match(r"^\.\s", a)]
    assert copy_all, "no `COPY . <dest>` of the code"
    copy_req = [n for n, (i, a) in enumerate(ins) if i == "COPY" and a.startswith("requirements.txt")]
    req_run = [n for n, (i, a) in enumerate(ins) if i == "RUN" and "-r requirements.txt" in a]
    assert copy_req and req_run
    assert t < copy_req[0] < req_run[0] < copy_all[0], "layer order: torch, requirements, code"
    assert names.count("FROM") == 1


def test_torch_pin_matches_requirements():
    arg = next(a for i, a in dockerfile_instructions() if i == "ARG" and a.startswith("TORCH_VERSION="))
    pinned = arg.split("=", 1)[1]
    reqs = source_file("requirements.txt").read_text()
    m = re.search(r"(?im)^\s*torch\s*==\s*([^\s;#]+)", reqs)
    assert m, "requirements.txt must pin torch==X (else PyPI's CUDA build could be pulled)"
    assert m.group(1) == pinned, (
        f"Dockerfile ARG TORCH_VERSION={pinned} but requirements.txt pins torch=={m.group(1)}")


def test_streamlit_config_values():
    cfg = tomllib.loads((REPO / ".streamlit/config.toml").read_text())
    for (section, key), want in EXPECTED_CONFIG.items():
        assert cfg.get(section, {}).get(key) == want, f"{section}.{key} should be {want!r}"


def test_dockerignore_keeps_junk_out():
    lines = {l.strip() for l in (REPO / ".dockerignore").read_text().splitlines()
             if l.strip() and not l.startswith("#")}
    for must in (".git", "**/__pycache__", ".venv", "tests", "bench", "wheels",
                 ".streamlit/secrets.toml", "*.png"):
        assert must in lines, f".dockerignore lacks {must}"
    for keep in ("app.py", "symbreak", "pages", ".streamlit", "requirements.txt"):
        assert keep not in lines, f".dockerignore must not exclude {keep}"


# ----------------------------------------------------------------------------- build
def _require_tools() -> None:
    missing = [t for t in ("podman", "debootstrap", "unshare", "chroot") if not shutil.which(t)]
    if missing:
        pytest.fail("missing: " + ", ".join(missing)
                    + " -- CI needs: apt-get install -y podman debootstrap")
    if os.geteuid() != 0:
        pytest.fail("the docker test needs root (debootstrap, podman storage, chroot)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing -- apt-get install -y chromium")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the image once for the module; yields (tag, inspect-dict, context)."""
    _require_tools()
    t_all = time.monotonic()
    # containers left by an interrupted earlier run (never started, only mounted)
    stale = subprocess.run(["podman", "ps", "-a", "-q", "--filter", "name=^symbreak-test-"],
                           capture_output=True, text=True).stdout.split()
    for cid in stale:
        subprocess.run(["podman", "rm", "-f", cid], capture_output=True)
    online = os.environ.get("SYMBREAK_DOCKER_ONLINE") == "1"
    base = ensure_base_image()
    ctx = tmp_path_factory.mktemp("dockerctx") / "ctx"
    pin = next(a for i, a in dockerfile_instructions() if i == "ARG" and a.startswith("TORCH_VERSION=")).split("=")[1]
    try:
        build_image.make_context(REPO, ctx, overlay_dir())
        wheels = build_image.wheels(ctx, pin, online)
        build_s = build_image.podman_build(ctx, base, IMAGE, wheels, online, "build")
    except build_image.BuildError as error:
        pytest.fail(str(error))
    info = json.loads(build_image.inspect(IMAGE))[0]
    size = int(build_image.inspect(IMAGE, "{{.Size}}"))
    log(f"IMAGE {IMAGE}: size {size} bytes = {size / 1e6:.0f} MB "
        f"({size / 2**30:.2f} GiB), build {build_s:.0f}s, setup total "
        f"{time.monotonic() - t_all:.0f}s, mode {'online' if online else 'offline wheels'}")
    yield {"tag": IMAGE, "info": info, "ctx": ctx, "base": base, "wheels": wheels,
           "online": online, "size": size}


def test_image_metadata(built):
    cfg = built["info"]["Config"]
    user = cfg.get("User") or ""
    assert user and user.split(":")[0] not in ("0", "root"), f"image runs as root: {user!r}"
    assert cfg.get("WorkingDir") == "/app"
    assert cfg["Entrypoint"] == ENTRYPOINT
    assert "/data" in (cfg.get("Volumes") or {}) and "XDG_DATA_HOME=/data" in cfg["Env"]
    assert "8501/tcp" in (cfg.get("ExposedPorts") or {})
    # podman keeps it top-level; docker under Config (needs --format docker to survive)
    hc = built["info"].get("Healthcheck") or cfg.get("Healthcheck") or {}
    assert hc.get("Test", [None])[0] in ("CMD", "CMD-SHELL"), f"no HEALTHCHECK kept: {hc}"
    # CPU build: far below the ~5+ GB of the CUDA one
    assert built["size"] < 2.5e9, f"image is {built['size'] / 1e9:.1f} GB: CUDA torch?"


def test_code_change_keeps_torch_layer(built):
    """Editing app code rebuilds only the final COPY layer (torch is not reinstalled)."""
    ctx = built["ctx"]
    with open(ctx / "app.py", "a") as f:
        f.write("\n# cache probe\n")
    tag = IMAGE + "-edit"
    try:
        dt = build_image.podman_build(ctx, built["base"], tag, built["wheels"], built["online"], "rebuild")
        a, b = build_image.layers(IMAGE), build_image.layers(tag)
        assert len(a) == len(b)
        assert a[:-1] == b[:-1], "a code change rebuilt dependency layers"
        assert a[-1] != b[-1]
        log(f"rebuild after a code change: {dt:.0f}s, only the last of {len(a)} layers changed")
    finally:
        subprocess.run(["podman", "rmi", tag], capture_output=True)


def test_image_has_the_command_line(built):
    """`docker run --entrypoint symbreak IMAGE run ...` trains and prints the summary, from any directory."""
    with ImageRootfs(built["tag"]) as fs:
        done = fs.run(["/bin/sh", "-c", "cd / && symbreak run --preset constant --steps 20"])
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads(done.stdout)
        assert summary["steps"] == 20 and summary["distinct_neurons"] == [1] and summary["hidden_gap"] == [0.0]
        bad = fs.run(["symbreak", "run", "--dropout", "2"])
        assert bad.returncode == 2 and bad.stderr.startswith("symbreak: error: dropout")


def _config_keys(cfg: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in cfg.items():
        if isinstance(v, dict) and not prefix:
            keys += _config_keys(v, k + ".")
        else:
            keys.append(prefix + k)
    return keys


def test_config_keys_exist_in_image_streamlit(built):
    """A misspelt config.toml key only logs a warning; check them against the image's streamlit."""
    keys = _config_keys(tomllib.loads((REPO / ".streamlit/config.toml").read_text()))
    code = ("import json, streamlit.config as c; "
            "print(json.dumps({k: str(v.value) for k, v in c._config_options_template.items()}))")
    with ImageRootfs(built["tag"]) as fs:
        r = fs.run(["python", "-c", code])
        assert r.returncode == 0, r.stderr[-2000:]
        known = json.loads(r.stdout.strip().splitlines()[-1])
        unknown = [k for k in keys if k not in known]
        assert not unknown, f"keys unknown to the image's streamlit: {unknown}"
        # and the values as streamlit reads them from /app/.streamlit/config.toml
        code2 = ("import json, streamlit.config as c; c.get_config_options(force_reparse=True); "
                 f"print(json.dumps({{k: c.get_option(k) for k in {keys!r}}}))")
        r = fs.run(["python", "-c", code2])
        assert r.returncode == 0, r.stderr[-2000:]
        seen = json.loads(r.stdout.strip().splitlines()[-1])
        for (section, key), want in EXPECTED_CONFIG.items():
            assert seen[f"{section}.{key}"] == want, (section, key, seen[f"{section}.{key}"])
        log(f"config as the image's streamlit reads it: {seen}")


def healthcheck_argv(built: dict) -> list[str]:
    """The image's HEALTHCHECK as a command line."""
    info = built["info"]
    test = (info.get("Healthcheck") or info["Config"].get("Healthcheck"))["Test"]
    return test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]


@contextmanager
def serving(fs: ImageRootfs, log_path: Path, port: int, **env: str) -> Iterator[Server]:
    """The image's entry point on `port` (and `env`), once /_stcore/health says ok there."""
    t0 = time.monotonic()
    with Server(fs, log_path, STREAMLIT_SERVER_PORT=str(port), **env) as srv:
        status = None
        while time.monotonic() - t0 < 120:
            if srv.proc.poll() is not None:
                pytest.fail(f"entry point exited ({srv.proc.returncode}):\n{srv.log_tail()}")
            status = health(f"http://127.0.0.1:{port}")
            if status == "ok":
                break
            time.sleep(0.5)
        assert status == "ok", f"/_stcore/health never said ok:\n{srv.log_tail()}"
        log(f"health ok after {time.monotonic() - t0:.1f}s ({env or 'the default CPUs'})")
        yield srv


def assert_pinned(pids: list[int]) -> None:
    """Every thread of each process keeps to one core, and (with two cores or more) each to a different one."""
    cores = []
    for pid in pids:
        threads = {proc_status(int(t.name)).get("Cpus_allowed_list") for t in Path(f"/proc/{pid}/task").iterdir()}
        threads.discard(None)
        assert len(threads) == 1, f"worker {pid}'s threads may use {threads}"
        cores.append(threads.pop())
    if len(os.sched_getaffinity(0)) >= 2:
        assert all(c.isdigit() for c in cores) and len(set(cores)) == len(cores), f"workers on cores {cores}"


def assert_headers(port: int) -> None:
    for path in ("/", "/_stcore/health", "/static/no-such-file.js"):
        _, headers, _ = http_get(port, path)
        missing = [h for h in IMAGE_HEADERS if h not in headers]
        assert not missing, f"{path} lacks the security headers {missing}: {headers}"
        assert "frame-ancestors 'self'" in headers["content-security-policy"]


def test_image_has_nginx_and_a_data_volume_for_the_app_user(built):
    with ImageRootfs(built["tag"]) as fs:
        assert (fs.root / "usr/sbin/nginx").exists() and not list((fs.root / "var/lib/apt/lists").glob("*_Packages"))
        done = fs.run(["/bin/sh", "-c", 'touch "$XDG_DATA_HOME/probe" && stat -c %u /data && id -u'])
        assert done.returncode == 0 and done.stdout.split() == [APP_UID, APP_UID], done.stderr


def test_two_cpus_two_pinned_workers_behind_sticky_nginx(built, tmp_path):
    port = free_port()
    with ImageRootfs(built["tag"]) as fs, serving(fs, tmp_path / "entry.log", port, SYMBREAK_CPUS="2") as srv:
        workers, nginx = srv.classroom()
        assert len(workers) == 2 and nginx, f"{srv.processes()}\n{srv.log_tail()}"
        assert all(proc_status(pid)["Uid"].split()[0] == APP_UID for pid in [*workers, *nginx])
        assert_pinned(list(workers))
        ports = set(workers.values())
        seen = [http_get(port)[2] for _ in range(6)]
        assert set(seen) == ports, f"new browsers went to {seen}, the workers listen on {ports}"
        for worker in ports:
            assert {http_get(port, path, worker)[2] for path in ("/", "/_stcore/health", "/")} == {worker}
        assert_headers(port)
        done = fs.run(healthcheck_argv(built), STREAMLIT_SERVER_PORT=str(port))
        assert done.returncode == 0, f"HEALTHCHECK failed: {done.stderr[-1500:]}"


def test_one_cpu_one_pinned_worker_and_no_nginx(built, tmp_path):
    port = free_port()
    with ImageRootfs(built["tag"]) as fs, serving(fs, tmp_path / "entry.log", port, SYMBREAK_CPUS="1") as srv:
        workers, nginx = srv.classroom()
        assert list(workers.values()) == [port] and not nginx, f"{srv.processes()}\n{srv.log_tail()}"
        assert_pinned(list(workers))
        assert http_get(port)[2] is None, "a stickiness cookie without nginx"
        assert_headers(port)
        done = fs.run(healthcheck_argv(built), STREAMLIT_SERVER_PORT=str(port))
        assert done.returncode == 0, f"HEALTHCHECK failed: {done.stderr[-1500:]}"


def test_entrypoint_serves_app_in_chromium(built, tmp_path):
    """The default start (as many workers as this machine's cores) serves the app to a browser."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    shot = Path(tempfile.gettempdir()) / "symbreak-docker-app.png"
    with ImageRootfs(built["tag"]) as fs:
        # The HEALTHCHECK must fail while nothing listens (it is not a no-op) ...
        r = fs.run(healthcheck_argv(built), STREAMLIT_SERVER_PORT=str(port))
        assert r.returncode != 0, "HEALTHCHECK passes with no server running"
        log(f"starting the image's entry point on port {port} (STREAMLIT_SERVER_PORT)")
        with serving(fs, tmp_path / "entry.log", port) as srv:
            # ... and pass now, run inside the image as the app user.
            r = fs.run(healthcheck_argv(built), STREAMLIT_SERVER_PORT=str(port))
            assert r.returncode == 0, f"HEALTHCHECK failed: {r.stderr[-1500:]}"

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    response = page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                    headers = response.all_headers()
                    missing = [h for h in IMAGE_HEADERS if h not in headers]
                    assert not missing, f"the image's page lacks the security headers {missing}: {headers}"
                    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
                    # first script run finished (torch import etc. included)
                    page.wait_for_selector(
                        "[data-testid='stApp'][data-test-script-state='notRunning']",
                        timeout=120_000)
                    page.wait_for_timeout(1000)
                    page.screenshot(path=str(shot), full_page=True)
                    log(f"screenshot: {shot}")
                    n_exc = page.locator("[data-testid='stException']").count()
                    assert n_exc == 0, (
                        f"{n_exc} stException shown:\n"
                        + page.locator("[data-testid='stException']").first.inner_text()
                        + f"\n--- server log ---\n{srv.log_tail()}")
                    # our app, not some other page: "symbreak" in the tab title or the text
                    title, body = page.title(), page.inner_text("body")
                    log(f"page title: {title!r}")
                    assert "symbreak" in (title + "\n" + body).lower(), (
                        f"'symbreak' in neither the title {title!r} nor the page:\n{body[:2000]}")
                finally:
                    browser.close()
            worker_logs = list(fs.root.glob("tmp/symbreak-serve-*/worker-*.log"))
            assert worker_logs, f"no worker logs under the image's /tmp:\n{srv.log_tail()}"
            tail = "".join(path.read_text(errors="replace") for path in worker_logs)
            log(f"page rendered, no exception; entry point's output:\n{srv.log_tail(15)}")
            # no public-IP lookup (the welcome banner is off in the image)
            assert "External URL" not in tail and "external IP" not in tail, tail
