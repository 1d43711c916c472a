import pytest

from aixcell_automl.executors import run


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
    """A few tiny real trials through a local 2-CPU Ray instance and in-process."""
    import ray

    from aixcell_automl.metabase import collect, read_rows
    from aixcell_automl.search_space import DEFAULT_SPACE, enumerate_configs

    configs = enumerate_configs(DEFAULT_SPACE)
    common = {"per_dataset": 2, "fidelity_pixels": 2**16, "seed": 3}
    collect([str(demo_path)], tmp_path / "local.jsonl", configs, executor="local", **common)
    try:
        collect([str(demo_path)], tmp_path / "ray.jsonl", configs, executor="ray",
                executor_options={"max_cpus": 2}, **common)
    finally:
        ray.shutdown()
    local = {r["config_id"]: r for r in read_rows(tmp_path / "local.jsonl")}
    remote = {r["config_id"]: r for r in read_rows(tmp_path / "ray.jsonl")}
    assert set(local) == set(remote) and len(local) == 2
    for cid, a in local.items():
        b = remote[cid]
        assert a["status"] == b["status"] == "ok"
        assert (a["steps"], a["pixels_seen"], a["dataset_hash"]) == (
            b["steps"], b["pixels_seen"], b["dataset_hash"])
        assert abs(a["val_iou"] - b["val_iou"]) < 0.1
