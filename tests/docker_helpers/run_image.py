#!/usr/bin/env python3
"""Run a built image's entry point without a container engine.

`podman run` does not work on our machines (cgroups), so this does what a
runtime would, by hand:

* ``podman create`` + ``podman mount``: a writable copy-on-write rootfs of the
  image (creating a container needs no cgroups; it is never started);
* the image's USER, WORKDIR, Env, ENTRYPOINT and CMD from
  ``podman image inspect``;
* ``unshare --mount`` (a private mount namespace, so nothing leaks onto the
  host) with /proc and /dev mounted into the rootfs, then ``chroot
  --userspec=UID:GID`` as the image's user, ``cd WORKDIR`` and exec.

No network namespace: the server listens on the host's network, so a port
given here is reachable from the host at 127.0.0.1:PORT.

By hand (as root), with any environment variables after the port:

    python3 tests/docker_helpers/run_image.py localhost/symbreak:test 8599 SYMBREAK_CPUS=2

It prints the entry point's process ids once it answers (for bench/bench_classroom.py --pid).
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
WORKER_PORT = re.compile(r"--server\.port=(\d+)")
# The cookie by which `symbreak serve`'s nginx keeps a browser on one worker: it names the worker's port.
WORKER_COOKIE = "symbreak_worker"


def descendants(pid: int) -> list[int]:
    """pid and every process it started and that still runs (from /proc/PID/task/*/children)."""
    seen, todo = [], [pid]
    while todo:
        current = todo.pop()
        seen.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
    return seen


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status by field (Cpus_allowed_list, Uid, ...), empty once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def http_get(port: int, path: str = "/", worker: int | None = None) -> tuple[int, dict[str, str], int | None]:
    """GET from 127.0.0.1:port (with the stickiness cookie naming `worker`): status, headers by lower-case name,
    and the worker that answered (from the cookie nginx sets; None without one)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": f"{WORKER_COOKIE}={worker}"} if worker else {})
        reply = connection.getresponse()
        reply.read()
        cookies = " ".join(v for k, v in reply.getheaders() if k.lower() == "set-cookie")
        match = re.search(rf"{WORKER_COOKIE}=(\d+)", cookies)
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, int(match.group(1)) if match else None
    finally:
        connection.close()


def http_get_status(port: int, path: str = "/_stcore/health") -> int | None:
    """The status of a GET from 127.0.0.1:port, None while nothing answers."""
    try:
        return http_get(port, path)[0]
    except OSError:
        return None


def image_config(image: str) -> dict:
    out = subprocess.run(
        ["podman", "image", "inspect", image], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)[0]


def _lookup(db: Path, key: str, id_field: int = 2) -> list[str] | None:
    """Find a passwd/group entry by name or numeric id."""
    if not db.exists():
        return None
    for line in db.read_text().splitlines():
        parts = line.split(":")
        if len(parts) > id_field and (parts[0] == key or parts[id_field] == key):
            return parts
    return None


def resolve_user(root: Path, user: str) -> tuple[int, int, str]:
    """The image's USER ("name", "uid", "name:group", "uid:gid") -> (uid, gid, home)."""
    name, _, group = (user or "0").partition(":")
    pw = _lookup(root / "etc/passwd", name)
    if pw is None and not name.isdigit():
        raise RuntimeError(f"user {name!r} not in the image's /etc/passwd")
    uid = int(pw[2]) if pw else int(name)
    home = pw[5] if pw else "/"
    if group:
        gr = _lookup(root / "etc/group", group)
        if gr is None and not group.isdigit():
            raise RuntimeError(f"group {group!r} not in the image's /etc/group")
        gid = int(gr[2]) if gr else int(group)
    else:
        gid = int(pw[3]) if pw else 0
    return uid, gid, home


class ImageRootfs:
    """A created (never started) container's mounted rootfs, removed on exit."""

    def __init__(self, image: str):
        self.image = image
        self.name = f"symbreak-test-{uuid.uuid4().hex[:10]}"
        self.root: Path | None = None
        self.config = image_config(image)["Config"]

    def __enter__(self) -> "ImageRootfs":
        # --no-healthcheck: podman would otherwise try to set up a systemd timer.
        subprocess.run(
            ["podman", "create", "--no-healthcheck", "--name", self.name, self.image],
            check=True, stdout=subprocess.DEVNULL,
        )
        try:
            self.root = Path(subprocess.run(
                ["podman", "mount", self.name], check=True, capture_output=True, text=True
            ).stdout.strip())
            # What a runtime injects: name resolution for localhost.
            (self.root / "etc/hosts").write_text(HOSTS)
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._remove()

    def _remove(self) -> None:
        subprocess.run(["podman", "umount", self.name], capture_output=True)
        subprocess.run(["podman", "rm", "--force", self.name], capture_output=True)

    # -- building the host command ------------------------------------------------
    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(e.split("=", 1) for e in (self.config.get("Env") or []))
        assert self.root is not None
        uid, gid, home = resolve_user(self.root, self.config.get("User") or "0")
        env.setdefault("HOME", home)
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.update(overrides)
        return env

    def command(self, argv: list[str] | None = None, **env_overrides: str) -> list[str]:
        """Host argv that runs `argv` (default: ENTRYPOINT + CMD) as the image would."""
        assert self.root is not None
        cfg = self.config
        if argv is None:
            argv = list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])
        if not argv:
            raise RuntimeError("image has neither ENTRYPOINT nor CMD")
        uid, gid, _home = resolve_user(self.root, cfg.get("User") or "0")
        workdir = cfg.get("WorkingDir") or "/"
        env = self.env(**env_overrides)
        r = shlex.quote(str(self.root))
        inner = " ".join(
            ["exec", "chroot", f"--userspec={uid}:{gid}", r, "/usr/bin/env", "-i"]
            + [shlex.quote(f"{k}={v}") for k, v in env.items()]
            + ["/bin/sh", "-c", shlex.quote('cd "$0" && exec "$@"'), shlex.quote(workdir)]
            + [shlex.quote(a) for a in argv]
        )
        script = (
            f"mount -t proc proc {r}/proc && "
            f"mount --rbind /dev {r}/dev && "
            f"mount -t tmpfs -o mode=1777 tmpfs {r}/dev/shm && "
            + inner
        )
        return ["unshare", "--mount", "--propagation", "private", "--fork",
                "/bin/sh", "-c", script]

    def run(self, argv: list[str], timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv, **env), capture_output=True, text=True,
                              timeout=timeout)


class Server:
    """The image's entry point, started in the background; killed on exit."""

    def __init__(self, rootfs: ImageRootfs, log_path: Path, **env: str):
        self.rootfs = rootfs
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.rootfs.command(**self.env),
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def processes(self) -> dict[int, str]:
        """The entry point's processes now (the chroot shares the host's process ids): pid -> command line."""
        assert self.proc is not None
        found = {}
        for pid in descendants(self.proc.pid):
            try:
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                pass
        return found

    def classroom(self) -> tuple[dict[int, int], list[int]]:
        """What `symbreak serve` runs now: its workers (pid -> the port each listens on) and nginx's processes."""
        processes = self.processes()
        workers = {pid: int(port.group(1)) for pid, cmd in processes.items()
                   if "streamlit.web.cli" in cmd and (port := WORKER_PORT.search(cmd))}
        nginx = [pid for pid, cmd in processes.items() if cmd.split(" ")[0].startswith("nginx")]
        return workers, nginx

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()


if __name__ == "__main__":
    image = sys.argv[1] if len(sys.argv) > 1 else "localhost/symbreak:test"
    port = sys.argv[2] if len(sys.argv) > 2 else "8501"
    env = dict(arg.split("=", 1) for arg in sys.argv[3:])
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill PID` stops the server as Ctrl-C does
    log = Path(tempfile.gettempdir()) / "symbreak-run-image.log"
    with ImageRootfs(image) as fs, Server(fs, log, STREAMLIT_SERVER_PORT=port, **env) as srv:
        print(f"serving {image} on http://127.0.0.1:{port}/ (log: {log}); Ctrl-C stops", flush=True)
        try:
            while srv.proc and srv.proc.poll() is None and http_get_status(int(port)) != 200:
                time.sleep(1)
            workers, nginx = srv.classroom()
            print(f"workers {sorted(workers)} (ports {sorted(workers.values())}), nginx {nginx}; "
                  f"--pid {','.join(str(pid) for pid in [*workers, *nginx])}", flush=True)
            while srv.proc and srv.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        print(srv.log_tail())
