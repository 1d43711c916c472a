"""A training clock that does not count the time the process was stopped.

Long jobs are paused with SIGSTOP/SIGCONT (to free the CPU for a benchmark) or sit in a suspended
laptop; ``time.perf_counter`` counts those hours as training, which inflates a row's
``train_seconds`` and understates its measured speed, and would eat a search slice's seconds. A
daemon thread ticks every ``tick`` seconds; a tick that comes back more than ``gap`` seconds late
can only mean the process did not run (a busy CPU delays a tick far less), so that delay
is added to :attr:`PauseAwareClock.paused` and left out of :meth:`PauseAwareClock.now`.
"""

from __future__ import annotations

import os
import threading
import time


class PauseAwareClock:
    """``now()`` = ``time.perf_counter()`` minus the seconds the process spent stopped."""

    def __init__(self, tick: float = 0.5, gap: float = 20.0) -> None:
        self.tick, self.gap, self.paused = tick, gap, 0.0
        self._last = time.perf_counter()
        self._lock = threading.Lock()
        self.pid = os.getpid()
        threading.Thread(target=self._watch, name="pause-aware-clock", daemon=True).start()

    def _late(self, t: float) -> float:
        late = t - self._last - self.tick
        return late if late > self.gap else 0.0

    def _watch(self) -> None:
        while True:
            time.sleep(self.tick)
            with self._lock:
                t = time.perf_counter()
                self.paused += self._late(t)
                self._last = t

    def now(self) -> float:
        """Seconds on a monotonic clock that stood still while the process was stopped (a
        stop not yet seen by the watcher thread is left out too)."""
        with self._lock:
            t = time.perf_counter()
            return t - self.paused - self._late(t)


_CLOCK: PauseAwareClock | None = None


def clock() -> PauseAwareClock:
    """The process's pause-aware clock (started on first use; a forked child, which has no watcher
    thread, starts its own)."""
    global _CLOCK
    if _CLOCK is None or _CLOCK.pid != os.getpid():
        _CLOCK = PauseAwareClock()
    return _CLOCK
