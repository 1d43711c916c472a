import pytest

from aixcell_automl.core.errors import UserError
from aixcell_automl.training.executors import run
from tests.project_conf import SPACE


def _square(x):
    return x * x


def test_local_executor_yields_every_result():
    assert sorted(run(_square, [(i,) for i in range(4)])) == [(0, 0), (1, 1), (2, 4), (3, 9)]


def test_isolated_executor_runs_each_task_in_a_fresh_process():
    import os

    pids = [pid for _, pid in run(os.getpid, [(), (), ()], "isolated")]
    assert len(set(pids)) == 3 and os.getpid() not in pids


def _probe(pause: float) -> tuple[float, float, str | None]:
    import os
    import time

    start = time.time()
    time.sleep(pause)
    return start, time.time(), os.environ.get("TF_NUM_INTRAOP_THREADS")


def test_isolated_workers_run_side_by_side_with_the_threads_asked_for():
    pulled = []

    def tasks():  # the executor takes a task only when a worker is free
        for i in range(3):
            pulled.append(i)
            yield (1.0,)

    it = run(_probe, tasks(), "isolated", workers=2, threads=1)
    first = next(it)
    assert pulled == [0, 1, 2]  # two started, the third taken when one finished
    out = dict([first, *it])
    assert sorted(out) == [0, 1, 2] and {t for _, _, t in out.values()} == {"1"}
    (s0, e0, _), (s1, e1, _) = out[0], out[1]
    assert s1 < e0 and s0 < e1  # 0 and 1 overlapped
    one = dict(run(_probe, [(0.5,), (0.5,)], "isolated"))
    assert one[1][0] >= one[0][1] and one[0][2] is None  # one at a time, TF's own threads
    with pytest.raises(UserError, match="workers must be at least 1"):
        list(run(_probe, [(0.0,)], "isolated", workers=0))


def _fail_first(i: int, pause: float) -> int:
    import time

    time.sleep(pause)
    if i == 0:
        raise ValueError("task 0 is bad")
    return i


def test_a_failed_task_hands_over_the_running_ones_results_then_raises():
    got = []
    with pytest.raises(ValueError, match="task 0 is bad"):
        for i, result in run(_fail_first, [(0, 0.2), (1, 1.5), (2, 0.0)], "isolated",
                             workers=2):
            got.append((i, result))
    assert got == [(1, 1)]  # task 1's row is not lost; task 2 never started


def test_the_collector_runs_one_trial_at_a_time_on_a_gpu(monkeypatch):
    from aixcell_automl.pipelines.metabase import nodes
    from aixcell_automl.training import hardware

    params = {"workers": 2, "threads": 1, "executor_options": {"max_cpus": 4}}
    monkeypatch.setattr(hardware, "hardware", lambda: "cpu:2xx86_64")
    assert nodes.executor_options(params) == {"workers": 2, "threads": 1, "max_cpus": 4}
    monkeypatch.setattr(hardware, "hardware", lambda: "gpu:1xNVIDIA H100")
    assert nodes.executor_options(params)["workers"] == 1


def test_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="unknown executor"):
        list(run(_square, [(1,)], "dask"))


@pytest.mark.slow
def test_ray_gives_the_same_metabase_rows_as_local(demo_path, tmp_path):
    """Two tiny real trials through a local 2-CPU Ray instance and in-process: training is
    deterministic, so the rows agree in every field but the timings."""
    import ray

    from aixcell_automl.core.search_space import enumerate_configs
    from aixcell_automl.metabase.collect import collect_named
    from aixcell_automl.metabase.store import read_rows

    configs = enumerate_configs(SPACE)[:2]
    common = {"fidelity_pixels": 2**16, "seed": 3}
    collect_named([str(demo_path)], tmp_path / "local.jsonl", configs, executor="local", **common)
    try:
        collect_named([str(demo_path)], tmp_path / "ray.jsonl", configs, executor="ray",
                      executor_options={"max_cpus": 2}, **common)
    finally:
        ray.shutdown()
    timings = {"train_seconds", "overhead_seconds", "eval_seconds", "stopped_seconds",
               "pixels_per_second", "cpu_seconds", "cpu_share", "started_utc"}

    def rows(name: str) -> dict:
        return {r["config_id"]: {k: v for k, v in r.items() if k not in timings}
                for r in read_rows(tmp_path / name)}

    local, remote = rows("local.jsonl"), rows("ray.jsonl")
    assert set(local) == {c["config_id"] for c in configs}
    assert all(r["status"] == "ok" and r["val_score"] > 0 for r in local.values())
    assert remote == local  # val_score, curve, steps, ... identical
