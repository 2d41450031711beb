"""Build the Dockerfile's image with podman from a temporary copy of the repo, offline where it can be.

The build context is a copy of the checkout (plus an optional overlay of files), with the pinned wheels
`pip download`ed on the host into its wheels/ (cached between runs by a hash of the pins) and mounted at /wheels,
so only Debian's apt repositories are needed during the build. Used by tests/test_docker.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
NOT_COPIED = {".git", "__pycache__", ".venv", "venv", ".pytest_cache", ".mypy_cache",
              ".ruff_cache", ".hypothesis", ".benchmarks", "artifacts", "wheels", "node_modules"}
# Wheels for the image (CPython 3.11, glibc 2.36 of bookworm), whatever the host's Python; pip does not expand a
# manylinux tag to older glibcs, so list them all.
PLATFORMS = [f"manylinux_2_{i}_x86_64" for i in range(36, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
# The stand-in base's Python (Debian bookworm's). pip evaluates a requirement's environment markers for the Python
# that runs it, whatever --python-version says: what only this release needs (redis's async-timeout, for Pythons
# before 3.11.3) is found in the wheels' metadata and fetched by more passes.
IMAGE_PYTHON = "3.11.2"


class BuildError(RuntimeError):
    """The image could not be built (the message says which step and shows its output)."""


def log(msg: str) -> None:
    print(f"[test_docker {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _ignore(dirpath: str, names: list[str]) -> set[str]:
    """Big local junk not worth copying into the temp context (.dockerignore drops it anyway)."""
    return {n for n in names if n in NOT_COPIED or n.endswith(".egg-info")}


def make_context(repo: Path, dest: Path, overlay: Path | None) -> None:
    """Copy the repo (then the overlay's files over it) into dest, the build context."""
    shutil.copytree(repo, dest, ignore=_ignore, symlinks=True)
    if overlay is not None:
        log(f"overlay {overlay} -> context")
        shutil.copytree(overlay, dest, dirs_exist_ok=True)
    for must in ("Dockerfile", "requirements.txt", "app.py"):
        if not (dest / must).exists():
            raise BuildError(f"build context has no {must} (repo: {repo}; overlay: {overlay})")


def _download(dest: Path, reqs: list[str]) -> None:
    """`pip download` wheels for the image's Python and platform into dest."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest),
           "--only-binary=:all:", "--python-version", IMAGE_PYTHON, "--implementation", "cp",
           "--abi", "cp311", *[a for p in PLATFORMS for a in ("--platform", p)], *reqs]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise BuildError(f"pip download failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")


def missing_for_image(folder: Path) -> list[str]:
    """Requirements of the wheels in folder that the image's Python needs and no wheel there provides."""
    env = {**default_environment(), "python_full_version": IMAGE_PYTHON, "python_version": IMAGE_PYTHON[:4]}
    wheel_files = list(folder.glob("*.whl"))
    have = {parse_wheel_filename(w.name)[0] for w in wheel_files}
    missing = set()
    for wheel in wheel_files:
        with zipfile.ZipFile(wheel) as archive:
            meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            lines = archive.read(meta).decode(errors="replace").splitlines()
        for line in lines:
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1])
                if canonicalize_name(req.name) not in have and (req.marker is None or req.marker.evaluate(env)):
                    missing.add(f"{req.name}{req.specifier}")
    return sorted(missing)


def wheels(ctx: Path, torch_pin: str, online: bool) -> Path:
    """Host-side `pip download` into ctx/wheels (hard links from a cache): torch, and the rest unless online."""
    torch_req = f"torch=={torch_pin}"
    reqs = [torch_req] if online else [torch_req, "-r", str(ctx / "requirements.txt")]
    key_src = json.dumps([reqs[0], "" if online else (ctx / "requirements.txt").read_text(), IMAGE_PYTHON])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    cache_root = Path(os.environ.get("SYMBREAK_DOCKER_CACHE", Path.home() / ".cache" / "symbreak-docker"))
    cache = cache_root / f"wheels-{key}"
    if not (cache / ".complete").exists():
        log(f"pip download {' '.join(reqs)} -> {cache}")
        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="partial-", dir=cache_root))
        try:
            _download(tmp, reqs)
            asked: set[str] = set()
            while not online and (more := missing_for_image(tmp)):
                if asked.issuperset(more):
                    raise BuildError(f"pip download gave no wheel for {more}")
                asked.update(more)
                log(f"pip download for Python {IMAGE_PYTHON}: {' '.join(more)}")
                _download(tmp, more)
        except BuildError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        (tmp / ".complete").write_text(" ".join(reqs))
        shutil.rmtree(cache, ignore_errors=True)
        tmp.rename(cache)
    else:
        log(f"wheels cached: {cache}")
    dest = ctx / "wheels"
    shutil.copytree(cache, dest, copy_function=os.link)
    if not any(p.name.startswith("torch-") and "+cpu" in p.name for p in dest.glob("*.whl")):
        raise BuildError("pip download did not give the CPU torch wheel")
    log(f"{len(list(dest.glob('*.whl')))} wheels in context")
    return dest


def podman_build(ctx: Path, base: str, tag: str, wheel_dir: Path, online: bool, label: str) -> float:
    """`podman build --isolation chroot` of ctx as tag, FROM base, pip reading wheel_dir; the seconds it took."""
    pip_extra = "--find-links /wheels" if online else "--no-index --find-links /wheels"
    cmd = ["podman", "build", "--isolation", "chroot", "--format", "docker", "--pull=never",
           "--build-arg", f"BASE={base}",
           "--build-arg", f"PIP_EXTRA={pip_extra} --cert {CA_BUNDLE}",
           "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
           "-v", f"{wheel_dir}:/wheels:ro"]
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
        if line.startswith(("STEP ", "--> ", "COMMIT", "Successfully", "Installing collected", "Error", "error")):
            log(f"[{label}]   {line[:160]}")
    try:
        rc = proc.wait(timeout=1500)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise BuildError("podman build timed out") from None
    dt = time.monotonic() - t0
    if rc != 0:
        raise BuildError(f"podman build failed (exit {rc}):\n" + "\n".join(tail))
    log(f"[{label}] built {tag} in {dt:.0f}s")
    return dt


def inspect(tag: str, template: str | None = None) -> str:
    """`podman image inspect` of tag: its JSON, or the Go template's output."""
    return subprocess.run(["podman", "image", "inspect", *(["--format", template] if template else []), tag],
                          check=True, capture_output=True, text=True).stdout.strip()


def layers(tag: str) -> list[str]:
    """The image's layer digests, base first."""
    return json.loads(inspect(tag, "{{json .RootFS.Layers}}"))
