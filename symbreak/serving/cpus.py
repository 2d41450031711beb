"""How many cores a class may use, and which core each worker keeps to: the CPU affinity and the cgroup's CPU quota
(a container's `--cpus`), read as plain files so tests feed them fake ones."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cores_for(workers: int) -> list[int | None]:
    """The core each worker keeps to: the cores this process may use, in turn; none when there is only one.

    A worker runs its event loop and every session's script on threads that share one interpreter lock. Free to
    run on two cores, they hand that lock from core to core at every message: on this 2-core machine one worker
    serving 30 students pressing every 2 s used 66 ms of CPU a press and answered in 5 s at p95; kept to one
    core, 38 ms and 0.1 s.
    """
    allowed = allowed_cores()
    if len(allowed) < 2:
        return [None] * workers
    return [allowed[i % len(allowed)] for i in range(workers)]


def allowed_cores() -> list[int]:
    """The cores this process may run on, in order (empty where the system does not say)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def cgroup_cpus(root: Path = CGROUP) -> float | None:
    """The CPUs the cgroup mounted at `root` may keep busy (its quota over its period), or None when it sets no quota.

    A container sees its own cgroup there: cgroup v2 writes "max 100000" or "200000 100000" in cpu.max, v1 writes
    cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us in its cpu controller's folder.
    """
    if (root / "cpu.max").is_file():
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    for folder in (root / "cpu", root / "cpu,cpuacct", root):
        if (folder / "cpu.cfs_quota_us").is_file():
            quota = int((folder / "cpu.cfs_quota_us").read_text())
            return None if quota <= 0 else quota / int((folder / "cpu.cfs_period_us").read_text())
    return None


def usable_cpus(cgroup_root: Path, cores: int) -> int:
    """The smaller of the cores a process may run on and its cgroup's quota (rounded up): one worker each."""
    quota = cgroup_cpus(cgroup_root)
    return max(1, min(cores, math.ceil(quota)) if quota is not None else cores)


def cpu_count() -> int:
    """The CPUs this process may use: the default number of workers."""
    return usable_cpus(CGROUP, len(allowed_cores()) or os.cpu_count() or 1)
