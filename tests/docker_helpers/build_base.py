#!/usr/bin/env python3
"""Build a stand-in for ``python:3.11-slim-bookworm`` from Debian packages.

The public base image cannot be pulled on our machines (only PyPI and
Debian's apt repositories are reachable), so the Docker test builds the
image ``FROM`` a base made here instead:

    debootstrap --variant=minbase bookworm  +  python3.11 python3-pip python3-venv

imported with ``podman import`` as ``localhost/symbreak-base:<hash>``.  The
tag is a hash of the recipe below, so re-runs find the cached image and
skip the (network-bound, 2-4 minute) debootstrap.

Same Debian release as the official slim image; the Python is Debian's
3.11.2 rather than python.org's 3.11.x in /usr/local, which is why the
Dockerfile installs everything into a venv (/opt/venv): that works on both
without ``--break-system-packages``.

Usage (needs root, debootstrap and podman):

    python3 tests/docker_helpers/build_base.py          # prints the tag
    python3 tests/docker_helpers/build_base.py --force  # rebuild even if cached
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

REPO = "localhost/symbreak-base"

# Everything that determines the image's content goes in here: change any of
# it and the hash (so the tag) changes, forcing a rebuild.
RECIPE = {
    "recipe": 2,
    "suite": "bookworm",
    "variant": "minbase",
    "arch": "amd64",
    "include": ["ca-certificates", "python3.11", "python3-pip", "python3-venv"],
    "env": {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    },
    "cmd": '["python3"]',
}

_NOISY = re.compile(r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) ")


def log(msg: str) -> None:
    print(f"[symbreak-base] {msg}", flush=True)


def recipe_hash() -> str:
    blob = json.dumps(RECIPE, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def base_tag() -> str:
    return f"{REPO}:{recipe_hash()}"


def require_tools() -> None:
    """Fail (never skip) when a tool is missing: CI installs them."""
    missing = [t for t in ("podman", "debootstrap", "tar") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(
            "missing tool(s): " + ", ".join(missing)
            + " -- install with: apt-get install -y podman debootstrap"
        )
    if os.geteuid() != 0:
        raise RuntimeError("building the stand-in base image needs root (debootstrap, podman import)")


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag]).returncode == 0


def _debootstrap(root: str, mirror: str | None, include: list[str] | None = None) -> None:
    """debootstrap the recipe's Debian into root, with its packages or the given ones."""
    cmd = [
        "debootstrap",
        f"--variant={RECIPE['variant']}",
        f"--arch={RECIPE['arch']}",
        "--include=" + ",".join(RECIPE["include"] if include is None else include),
        RECIPE["suite"],
        root,
    ] + ([mirror] if mirror else [])  # none given: debootstrap's default Debian mirror
    log("running: " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    quiet = 0
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-40:]
        if _NOISY.match(line):
            quiet += 1
            if quiet % 50 == 0:
                log(f"  ... {quiet} package steps")
            continue
        log("  " + line)
    if proc.wait() != 0:
        raise RuntimeError(
            f"debootstrap failed (exit {proc.returncode}); last output:\n" + "\n".join(tail)
        )


def _slim(root: str) -> None:
    """Drop what the official slim image does not ship either."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        d = os.path.join(root, sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            p = os.path.join(d, name)
            if os.path.isfile(p) and name not in ("lock",):
                os.unlink(p)
    for sub in ("usr/share/doc", "usr/share/man", "usr/share/info"):
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    # podman/buildah bind-mount their own resolv.conf and hosts during RUN.
    for f in ("etc/resolv.conf", "etc/hostname"):
        p = os.path.join(root, f)
        if os.path.lexists(p):
            os.unlink(p)


def _import(root: str, tag: str) -> None:
    changes: list[str] = []
    for k, v in RECIPE["env"].items():
        changes += ["--change", f"ENV {k}={v}"]
    changes += ["--change", f"CMD {RECIPE['cmd']}"]
    log(f"importing rootfs as {tag}")
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--xattrs", "-C", root, "-cf", "-", "."],
        stdout=subprocess.PIPE,
    )
    imp = subprocess.run(
        ["podman", "import", *changes,
         "--message", "symbreak stand-in for python:3.11-slim-bookworm", "-", tag],
        stdin=tar.stdout, stdout=subprocess.PIPE, text=True,
    )
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0 or imp.returncode != 0:
        raise RuntimeError(f"podman import failed (tar {tar.returncode}, import {imp.returncode})")


def ensure_base_image(force: bool = False, mirror: str | None = None) -> str:
    """Return the tag of the stand-in base image, building it if needed."""
    require_tools()
    tag = base_tag()
    if not force and image_exists(tag):
        log(f"cached: {tag}")
        return tag
    mirror = mirror or os.environ.get("SYMBREAK_DEBIAN_MIRROR") or None
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="symbreak-base-", dir="/var/tmp")
    root = os.path.join(work, "rootfs")
    try:
        _debootstrap(root, mirror)
        _slim(root)
        # Sanity: the pieces the Dockerfile relies on.
        for rel in ("usr/bin/python3.11", "usr/sbin/useradd", "usr/lib/python3.11/venv"):
            if not os.path.exists(os.path.join(root, rel)):
                raise RuntimeError(f"stand-in rootfs lacks /{rel}")
        _import(root, tag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"built {tag} in {time.monotonic() - t0:.0f}s")
    return tag


if __name__ == "__main__":
    print(ensure_base_image(force="--force" in sys.argv[1:]))
