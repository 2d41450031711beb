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
   --build-arg PIP_EXTRA="--no-index --find-links /wheels" -v wheels:/wheels`;
4. starts the image's ENTRYPOINT as its USER in its WORKDIR via chroot
   (tests/docker_helpers/run_image.py; `podman run` fails on this kernel),
   waits for /_stcore/health, runs the image's HEALTHCHECK, and loads the
   page in headless Chromium.

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

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from browser_kit import free_port, health  # noqa: E402
from docker_helpers.build_base import ensure_base_image  # noqa: E402
from docker_helpers.run_image import ImageRootfs, Server  # noqa: E402

pytestmark = pytest.mark.docker

IMAGE = "localhost/symbreak:test"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CHROMIUM = "/usr/bin/chromium"
# What the image's entry point (deploy/asgi.py) adds to every response.
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


def log(msg: str) -> None:
    print(f"[test_docker {time.strftime('%H:%M:%S')}] {msg}", flush=True)


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

    ep = json.loads(args["ENTRYPOINT"])  # exec form = a JSON array
    assert ep[:3] == ["streamlit", "run", "deploy/asgi.py"] and "--server.address=0.0.0.0" in ep, ep

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


_NOT_COPIED = {".git", "__pycache__", ".venv", "venv", ".pytest_cache", ".mypy_cache",
               ".ruff_cache", ".hypothesis", ".benchmarks", "artifacts", "wheels", "node_modules"}


def _ignore(dirpath: str, names: list[str]) -> set[str]:
    """Big local junk not worth copying into the temp context (.dockerignore drops it anyway)."""
    return {n for n in names if n in _NOT_COPIED or n.endswith(".egg-info")}


def _make_context(dest: Path) -> None:
    shutil.copytree(REPO, dest, ignore=_ignore, symlinks=True)
    ov = overlay_dir()
    if ov is not None:
        log(f"overlay {ov} -> context")
        shutil.copytree(ov, dest, dirs_exist_ok=True)
    for must in ("Dockerfile", "requirements.txt", "app.py"):
        if not (dest / must).exists():
            pytest.fail(f"build context has no {must} (repo: {REPO}; overlay: {ov})")


def _torch_pin(ctx: Path) -> str:
    return next(a for i, a in dockerfile_instructions()
                if i == "ARG" and a.startswith("TORCH_VERSION=")).split("=", 1)[1]


def _wheels(ctx: Path, online: bool) -> Path:
    """Host-side `pip download` into ctx/wheels (hard links from a cache)."""
    torch_req = f"torch=={_torch_pin(ctx)}"
    reqs = [torch_req] if online else [torch_req, "-r", str(ctx / "requirements.txt")]
    key_src = json.dumps([reqs[0], "" if online else (ctx / "requirements.txt").read_text()])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    cache_root = Path(os.environ.get("SYMBREAK_DOCKER_CACHE",
                                     Path.home() / ".cache" / "symbreak-docker"))
    cache = cache_root / f"wheels-{key}"
    if not (cache / ".complete").exists():
        log(f"pip download {' '.join(reqs)} -> {cache}")
        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="partial-", dir=cache_root))
        # Wheels for the image (CPython 3.11, glibc 2.36 of bookworm), whatever the host's
        # Python; pip does not expand a manylinux tag to older glibcs, so list them all.
        platforms = [f"manylinux_2_{i}_x86_64" for i in range(36, 4, -1)] + [
            "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(tmp),
               "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
               "--abi", "cp311", *[a for p in platforms for a in ("--platform", p)], *reqs]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.fail(f"pip download failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        (tmp / ".complete").write_text(" ".join(reqs))
        shutil.rmtree(cache, ignore_errors=True)
        tmp.rename(cache)
    else:
        log(f"wheels cached: {cache}")
    dest = ctx / "wheels"
    shutil.copytree(cache, dest, copy_function=os.link)
    n = len(list(dest.glob("*.whl")))
    assert any(p.name.startswith("torch-") and "+cpu" in p.name for p in dest.glob("*.whl")), \
        "pip download did not give the CPU torch wheel"
    log(f"{n} wheels in context")
    return dest


def _podman_build(ctx: Path, base: str, tag: str, wheels: Path, online: bool,
                  label: str) -> float:
    pip_extra = "--find-links /wheels" if online else "--no-index --find-links /wheels"
    cmd = ["podman", "build", "--isolation", "chroot", "--format", "docker", "--pull=never",
           "--build-arg", f"BASE={base}",
           "--build-arg", f"PIP_EXTRA={pip_extra} --cert {CA_BUNDLE}",
           "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
           "-v", f"{wheels}:/wheels:ro"]
    if online:
        # download.pytorch.org is not reachable here: torch comes from /wheels,
        # whose 2.13.0+cpu sorts above PyPI's (CUDA) 2.13.0; the rest from PyPI.
        from pip._internal.models.index import PyPI  # pip's own default index URL
        cmd += ["--build-arg", f"TORCH_INDEX={PyPI.simple_url}"]
    cmd += ["-t", tag, str(ctx)]
    log(f"[{label}] " + " ".join(cmd))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-60:]
        if line.startswith(("STEP ", "--> ", "COMMIT", "Successfully", "Installing collected",
                            "Error", "error")):
            log(f"[{label}]   {line[:160]}")
    try:
        rc = proc.wait(timeout=1500)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("podman build timed out")
    dt = time.monotonic() - t0
    if rc != 0:
        pytest.fail(f"podman build failed (exit {rc}):\n" + "\n".join(tail))
    log(f"[{label}] built {tag} in {dt:.0f}s")
    return dt


def _layers(tag: str) -> list[str]:
    out = subprocess.run(["podman", "image", "inspect", "--format", "{{json .RootFS.Layers}}", tag],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


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
    _make_context(ctx)
    wheels = _wheels(ctx, online)
    build_s = _podman_build(ctx, base, IMAGE, wheels, online, "build")
    info = json.loads(subprocess.run(["podman", "image", "inspect", IMAGE], check=True,
                                     capture_output=True, text=True).stdout)[0]
    size = int(subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", IMAGE],
                              check=True, capture_output=True, text=True).stdout.strip())
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
    assert cfg["Entrypoint"][:3] == ["streamlit", "run", "deploy/asgi.py"]
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
        dt = _podman_build(ctx, built["base"], tag, built["wheels"], built["online"], "rebuild")
        a, b = _layers(IMAGE), _layers(tag)
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


def test_entrypoint_serves_app_in_chromium(built, tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    logf = tmp_path / "streamlit.log"
    info = built["info"]
    hc = (info.get("Healthcheck") or info["Config"].get("Healthcheck"))["Test"]
    hc_argv = hc[1:] if hc[0] == "CMD" else ["/bin/sh", "-c", hc[1]]
    shot = Path(tempfile.gettempdir()) / "symbreak-docker-app.png"
    with ImageRootfs(built["tag"]) as fs:
        # The HEALTHCHECK must fail while nothing listens (it is not a no-op) ...
        r = fs.run(hc_argv, STREAMLIT_SERVER_PORT=str(port))
        assert r.returncode != 0, "HEALTHCHECK passes with no server running"
        log(f"starting the image's entry point on port {port} (STREAMLIT_SERVER_PORT)")
        t0 = time.monotonic()
        with Server(fs, logf, STREAMLIT_SERVER_PORT=str(port)) as srv:
            status = None
            while time.monotonic() - t0 < 120:
                if srv.proc.poll() is not None:
                    pytest.fail(f"entry point exited ({srv.proc.returncode}):\n{srv.log_tail()}")
                status = health(f"http://127.0.0.1:{port}")
                if status == "ok":
                    break
                time.sleep(0.5)
            assert status == "ok", f"/_stcore/health never said ok:\n{srv.log_tail()}"
            log(f"health ok after {time.monotonic() - t0:.1f}s")
            # ... and pass now, run inside the image as the app user.
            r = fs.run(hc_argv, STREAMLIT_SERVER_PORT=str(port))
            assert r.returncode == 0, f"HEALTHCHECK failed: {r.stderr[-1500:]}"

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    response = page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                    headers = response.all_headers()
                    missing = [h for h in IMAGE_HEADERS if h not in headers]
                    assert not missing, f"the image's page lacks the security headers {missing}: {headers}"
                    assert "frame-ancestors 'self'" in headers["content-security-policy"], headers
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
            tail = srv.log_tail(200)
            log(f"page rendered, no exception; server log tail:\n{srv.log_tail(15)}")
            # no public-IP lookup (the welcome banner is off in the image)
            assert "External URL" not in tail and "external IP" not in tail, tail
