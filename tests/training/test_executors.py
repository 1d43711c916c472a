import pytest

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
