"""The pause-aware training clock. Its arithmetic is checked on a fake ``time`` whose ticks the
test releases one by one (exact, on any machine); a real SIGSTOP checks that a stop is seen, with
lower bounds only (a busy machine can make a tick later, never a stop shorter)."""

import os
import selectors
import signal
import subprocess
import sys
import threading
import time

import pytest

CHILD = """
import sys, time
from aixcell_automl.training.clock import PauseAwareClock
clk = PauseAwareClock(tick=0.05, gap=0.5)
wall0, t0 = time.perf_counter(), clk.now()
print("ready", flush=True)
sys.stdin.readline()  # the parent stops and continues us, then writes a line
time.sleep(0.2)  # a few ticks: the watcher has seen the stop
wall, mine = time.perf_counter() - wall0, clk.now() - t0
print(f"{wall:.3f} {mine:.3f} {clk.paused:.3f}", flush=True)
"""


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        raise TimeoutError(f"no line from the child in {timeout} s")
    return proc.stdout.readline()


def test_a_stopped_process_does_not_count_the_stop():
    """SIGSTOP for at least 2 s: the clock records it as paused (at least the stop, less two
    ticks) and leaves it out of now()."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert _readline(child, 120).strip() == "ready"
        child.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        child.send_signal(signal.SIGCONT)
        out, _ = child.communicate("go\n", timeout=120)
    finally:
        child.kill()
        child.wait(timeout=60)
    wall, mine, paused = map(float, out.split())
    assert 1.9 <= paused <= wall  # a clock that ignored stops would record 0
    assert 0 <= mine <= wall - 1.9 + 0.05  # (three decimals printed)


class FakeTime:
    """``perf_counter`` returns :attr:`t`; the watcher's ``sleep`` blocks until :meth:`tick`
    lets it return, so every tick of the clock's thread happens when the test says."""

    def __init__(self) -> None:
        self.t = 100.0
        self._go = threading.Semaphore(0)
        self._asleep = threading.Semaphore(0)

    def perf_counter(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self._asleep.release()
        assert self._go.acquire(timeout=60)

    def tick(self, advance: float) -> None:
        """Advance the time by ``advance`` s, let one tick run, wait until it has."""
        assert self._asleep.acquire(timeout=60)
        self.t += advance
        self._go.release()
        assert self._asleep.acquire(timeout=60)  # the tick is processed, the watcher sleeps
        self._asleep.release()


@pytest.fixture
def fake_time(monkeypatch):
    from aixcell_automl.training import clock

    fake = FakeTime()
    monkeypatch.setattr(clock, "time", fake)
    return fake


def test_the_clock_leaves_out_exactly_the_ticks_that_came_back_too_late(fake_time):
    from aixcell_automl.training.clock import PauseAwareClock

    clk = PauseAwareClock(tick=0.5, gap=20.0)
    t0 = clk.now()
    for _ in range(4):  # on time
        fake_time.tick(0.5)
    fake_time.tick(0.5 + 19.0)  # late, but within the gap: a busy CPU, counted
    fake_time.tick(0.5)
    assert clk.paused == 0.0 and clk.now() - t0 == 22.0
    fake_time.tick(0.5 + 30.0)  # 30 s stopped
    fake_time.tick(0.5)
    assert clk.paused == 30.0 and clk.now() - t0 == 23.0
    # a stop the watcher has not seen yet is left out of now() already, and counted once
    fake_time.t += 0.5 + 50.0
    assert clk.now() - t0 == 23.5 and clk.paused == 30.0
    fake_time.tick(0.0)
    assert clk.paused == 80.0 and clk.now() - t0 == 23.5
    fake_time.tick(0.5)
    assert clk.now() - t0 == 24.0
