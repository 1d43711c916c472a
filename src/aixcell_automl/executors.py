"""Where trials run: in this process (default) or on a Ray cluster.

Both take a picklable function and a list of task argument tuples, and yield ``(index, result)``
as tasks finish, so callers write results as they arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

log = logging.getLogger(__name__)


def run_local(fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, object]]:
    """Run tasks one after another in this process."""
    for i, args in enumerate(tasks):  # iterating lets a task list stop early (time limits)
        yield i, fn(*args)


def run_ray(fn: Callable, tasks: Sequence[tuple], address: str | None = None,
            num_cpus: float = 1, num_gpus: float = 0, max_cpus: int | None = None
            ) -> Iterator[tuple[int, object]]:
    """Run tasks as Ray remote functions (``num_cpus``/``num_gpus`` each).

    ``address=None`` starts a local Ray instance (``max_cpus`` CPUs); ``"auto"`` or
    ``"ray://host:10001"`` joins an existing cluster.
    """
    import ray

    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": max_cpus}
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, **kwargs)
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(fn)
    pending = {remote.remote(*args): i for i, args in enumerate(tasks)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            yield pending.pop(ref), ray.get(ref)


def run(fn: Callable, tasks: Sequence[tuple], executor: str = "local", **options
        ) -> Iterator[tuple[int, object]]:
    """Dispatch to :func:`run_local` or :func:`run_ray` by name."""
    if executor == "local":
        return run_local(fn, tasks)
    if executor == "ray":
        return run_ray(fn, tasks, **options)
    raise ValueError(f"unknown executor {executor!r}; use 'local' or 'ray'")
