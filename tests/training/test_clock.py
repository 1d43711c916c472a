import os
import signal
import subprocess
import sys
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


def test_a_stopped_process_does_not_count_the_stop():
    """SIGSTOP for 2 s: wall time counts it, the clock leaves it out (and says so in paused)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        child.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        child.send_signal(signal.SIGCONT)
        child.stdin.write("go\n")
        child.stdin.flush()
        wall, mine, paused = map(float, child.stdout.readline().split())
    finally:
        child.kill()
    assert wall >= 2.3
    assert 1.8 <= paused <= wall  # the 2-s stop, less one tick at most
    assert mine == pytest.approx(wall - paused, abs=0.05)
    assert mine <= wall - 1.8


def test_a_running_process_is_not_paused():
    from aixcell_automl.training.clock import PauseAwareClock

    clk = PauseAwareClock(tick=0.01, gap=0.5)
    t0, w0 = clk.now(), time.perf_counter()
    busy = time.perf_counter() + 0.3
    while time.perf_counter() < busy:  # holds the GIL in short stretches, like a training loop
        sum(range(1000))
    assert clk.paused == 0.0
    assert clk.now() - t0 == pytest.approx(time.perf_counter() - w0, abs=0.01)
