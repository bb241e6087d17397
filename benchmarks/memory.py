"""Peak memory of a command and all its child processes, sampled from /proc.

The simulator forks workers, so the peak resident memory of one process understates what
the machine needs; this sums the proportional set size (PSS, shared pages split fairly) of
the whole process tree every ``interval`` seconds.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """Wall time, exit status and peak tree memory of one command."""

    seconds: float
    returncode: int
    peak_bytes: int


def _children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in children:
            found.extend(_children(int(child)))
    return found


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return 0


def run_measured(command: list[str], interval: float = 0.25) -> Measured:
    """Run ``command``; return its wall time and the peak PSS summed over its process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            peak = max(peak, sum(_pss(pid) for pid in _children(process.pid)))
        time.sleep(interval)
    return Measured(time.perf_counter() - started, process.returncode, peak)
