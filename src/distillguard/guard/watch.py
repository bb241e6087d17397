"""Files the guard reloads while serving: policy, batch verdicts, appeals.

A :class:`Watched` value is re-read when any of its files changes (size or modification
time) and *swapped in whole*, so a request sees either the old or the new value, never a
mix.  When the new files do not validate (a half-written verdict file, a broken policy),
the previous value stays in force and the error is kept for health checks and logs; the
next change is tried again.  Reloading happens on a background thread
(:class:`Refresher`), never on the request path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from distillguard.errors import UserError

T = TypeVar("T")
log = logging.getLogger("distillguard.guard")

Signature = tuple[tuple[int, int] | None, ...]


def _signature(paths: Sequence[Path]) -> Signature:
    out: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            out.append(None)
        else:
            out.append((stat.st_mtime_ns, stat.st_size))
    return tuple(out)


class Watched(Generic[T]):
    """The latest valid value loaded from ``paths`` by ``load``."""

    def __init__(self, what: str, paths: Sequence[Path], load: Callable[[], T]) -> None:
        self.what = what
        self.paths = list(paths)
        self._load = load
        self._signature: Signature | None = None
        self.value: T = load()
        self._signature = _signature(self.paths)
        self.error: str | None = None
        self.reloads = 0

    def refresh(self) -> bool:
        """Reload if a file changed; True when a new value was swapped in."""
        signature = _signature(self.paths)
        if signature == self._signature:
            return False
        try:
            value = self._load()
        except UserError as error:
            if self.error != str(error):
                log.warning("%s not reloaded, keeping the previous one: %s", self.what, error)
            self.error = str(error)
            return False  # keep the signature stale: retried on the next tick and change
        if _signature(self.paths) != signature:
            # A file changed while it was read (a writer between its files): the value
            # may mix old and new, so it waits for the next tick.
            return False
        self.value = value
        self._signature = signature
        self.error = None
        self.reloads += 1
        log.info("%s reloaded from %s", self.what, ", ".join(map(str, self.paths)))
        return True


class Refresher:
    """A daemon thread that refreshes watched values every ``interval`` seconds."""

    def __init__(self, watched: Sequence[Watched[object]], interval: float = 1.0) -> None:
        self.watched = list(watched)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh_all(self) -> None:
        for item in self.watched:
            item.refresh()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="distillguard-refresher", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh_all()
            except Exception:  # a reload bug must not kill reloading for good
                log.exception("reloading failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
