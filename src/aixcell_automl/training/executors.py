"""Where trials run: in this process, in a fresh process per trial, or on a Ray cluster.

All take a picklable function and a list of task argument tuples, and yield ``(index, result)``
as tasks finish, so callers write results as they arrive.

TensorFlow does not give back all memory of a finished trial (measured on 2026-11-27: about
220 MB per ResNet-18 trial, even after ``clear_session``), so long jobs (the meta-base collector,
the evaluation) use ``isolated``: one fresh process per trial, which returns everything to the
operating system; Ray workers are likewise restarted after each trial.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)


def run_local(fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, object]]:
    """Run tasks one after another in this process."""
    for i, args in enumerate(tasks):  # iterating lets a task list stop early (time limits)
        yield i, fn(*args)


def _die_with_parent() -> None:
    """In a worker: get SIGKILL when the parent dies (Linux), so ``kill -9`` of a collector
    leaves no orphan trial behind."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to do
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def _start_worker(threads: int | None) -> None:
    """A fresh worker: dies with its parent; ``threads``, before TensorFlow loads, caps its
    intra-op, inter-op and OpenMP threads."""
    import os

    _die_with_parent()
    if threads:
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(int(threads))))


def run_isolated(fn: Callable, tasks: Iterable[tuple], workers: int = 1,
                 threads: int | None = None) -> Iterator[tuple[int, object]]:
    """Run tasks each in a freshly spawned process, ``workers`` at a time, yielding results as
    they finish; tasks are taken from ``tasks`` only as a worker frees up (a task list may stop
    early: time limits). ``threads``: TensorFlow's threads per process (default: its own, one
    per core). Two one-thread trials side by side trained 1.17-1.30x the pixels per second of
    one trial alone on a 2-core CPU (docs/performance.md)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    workers = int(workers)
    if workers < 1:
        raise UserError(f"executor isolated: workers must be at least 1, got {workers}")
    todo = iter(enumerate(tasks))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             max_tasks_per_child=1, initializer=_start_worker,
                             initargs=(threads,)) as pool:
        running: dict = {}

        def fill() -> None:
            while len(running) < workers:
                nxt = next(todo, None)
                if nxt is None:
                    return
                running[pool.submit(fn, *nxt[1])] = nxt[0]

        error = None
        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            finished = [(running.pop(future), future) for future in done]
            error = error or next((f.exception() for _, f in finished if f.exception()), None)
            if error is None:
                fill()  # before handing results over: no worker waits on the caller
            for i, future in finished:  # after a failure: the running ones' results, then it
                if future.exception() is None:
                    yield i, future.result()
        if error is not None:
            raise error


def run_ray(fn: Callable, tasks: Sequence[tuple], address: str | None = None,
            num_cpus: float = 1, num_gpus: float = 0, max_cpus: int | None = None,
            workers: int | None = None, threads: int | None = None
            ) -> Iterator[tuple[int, object]]:
    """Run tasks as Ray remote functions (``num_cpus``/``num_gpus`` each; ``threads``: as for
    :func:`run_isolated`).

    ``address=None`` starts a local Ray instance (``max_cpus`` CPUs, default ``workers x
    num_cpus``, else all); ``"auto"`` or ``"ray://host:10001"`` joins an existing cluster.
    """
    import ray

    if not ray.is_initialized():
        local = max_cpus or (math.ceil(workers * num_cpus) if workers else None)
        kwargs = {"address": address} if address else {"num_cpus": local}
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, **kwargs)
    env = {"env_vars": dict.fromkeys(THREAD_VARIABLES, str(int(threads)))} if threads else None
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_calls=1,
                        runtime_env=env)(fn)
    pending = {remote.remote(*args): i for i, args in enumerate(tasks)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            yield pending.pop(ref), ray.get(ref)


def run(fn: Callable, tasks: Sequence[tuple], executor: str = "local",
        workers: int | None = None, threads: int | None = None, **options
        ) -> Iterator[tuple[int, object]]:
    """Dispatch to :func:`run_local`, :func:`run_isolated` or :func:`run_ray` by name:
    ``workers`` tasks at once (default one; Ray: as many as the CPUs allow) with ``threads``
    TensorFlow threads each (default TensorFlow's own); ``local`` runs one task at a time in
    this process, whatever they say."""
    if executor == "local":
        if (workers or 1) > 1 or threads:
            log.warning("executor local runs one trial at a time in this process: workers "
                        "and threads do not apply")
        return run_local(fn, tasks)
    if executor == "isolated":
        return run_isolated(fn, tasks, 1 if workers is None else workers, threads)
    if executor == "ray":
        return run_ray(fn, tasks, workers=workers, threads=threads, **options)
    raise UserError(f"unknown executor {executor!r}; use 'local', 'isolated' or 'ray'")
