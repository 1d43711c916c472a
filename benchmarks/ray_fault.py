"""A worker node killed mid-trial on a two-node Ray cluster loses or duplicates no meta-base row.

Starts a local Ray head and a second node on this machine (Linux) (``ray start --head``, then
``ray start --address=...``, each with its own ports and temp dir, one CPU each), runs a small
meta-base collection (the tiny ladder 3@2^15 -> 2@2^16 -> 1@2^17 on the synthetic demo set)
with ``executor=ray, address=auto``, SIGKILLs every process of the second node while a trial
runs there, lets the collection finish (Ray retries the lost task on the head; if the collector
itself fails, it is run again), and compares its rows' (dataset, configuration, fidelity) keys
with those of an uninterrupted collection by the local executor. Exit status 0 when they match
and each key occurs once. Only the processes this script started are stopped (by pid).

    python benchmarks/ray_fault.py [--work DIR] [--kill-delay SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

LADDER = "3@15:1,2@16:1,1@17"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def node_args(temp_dir: Path) -> list[str]:
    """Ports and temp dir of one node, so that two nodes share this machine."""
    p = free_ports(7)
    return ["--num-cpus=1", f"--temp-dir={temp_dir}", f"--node-manager-port={p[0]}",
            f"--object-manager-port={p[1]}", f"--min-worker-port={p[2]}",
            f"--max-worker-port={p[2] + 40}", f"--dashboard-agent-listen-port={p[3]}",
            f"--dashboard-agent-grpc-port={p[4]}", f"--runtime-env-agent-port={p[5]}",
            f"--metrics-export-port={p[6]}", "--disable-usage-stats"]


def _processes() -> dict[int, tuple[int, str]]:
    """``pid -> (parent pid, command line)`` of every process (Linux ``/proc``)."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out[int(d.name)] = (ppid, cmd.strip())
    return out


def processes_of(temp_dir: Path) -> dict[int, str]:
    """The processes a node started (``pid -> command line``): those naming its temp dir, and
    their descendants."""
    procs = _processes()
    found = {pid for pid, (_, cmd) in procs.items() if str(temp_dir) in cmd}
    grew = True
    while grew:
        new = {pid for pid, (ppid, _) in procs.items() if ppid in found} - found
        found |= new
        grew = bool(new)
    return {pid: procs[pid][1] for pid in found}


def trial_running_on(temp_dir: Path) -> bool:
    """Whether a Ray worker of this node is executing ``run_trial`` (its process title)."""
    return any(cmd.startswith("ray::run_trial") for cmd in processes_of(temp_dir).values())


def kill(pids) -> int:
    n = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            n += 1
        except ProcessLookupError:
            pass
    return n


def keys(path: Path) -> Counter:
    from aixcell_automl.metabase.store import read_rows

    return Counter((r["dataset"], r["config_id"], r["fidelity_pixels"]) for r in read_rows(path))


def collect_cmd(demo: Path, out: Path, ckpt: Path, executor: str) -> list[str]:
    cmd = [sys.executable, "-m", "aixcell_automl", "metabase", "--datasets-root",
           str(demo.parent), "--datasets", demo.name, "--ladder", LADDER, "--out", str(out),
           "--checkpoints", str(ckpt), "--executor", executor]
    return cmd + (["--executor-options", json.dumps({"address": "auto"})]
                  if executor == "ray" else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None, help="working folder (default: a temp folder)")
    parser.add_argument("--kill-delay", type=float, default=20.0,
                        help="seconds between seeing a trial start on the second node and "
                             "killing the node (past the imports, into building and training)")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}: {' '.join(sys.argv)} "
          f"({os.cpu_count()} CPUs)")
    work = Path(args.work or tempfile.mkdtemp(prefix="ray_fault_")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    from aixcell_automl.core.demo_data import ensure_demo_dataset

    demo = ensure_demo_dataset(work / "demo", n_images=8, size=128, seed=1)
    env = {**os.environ, "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "RAY_AUTH_MODE": "disabled"}  # a throw-away cluster on 127.0.0.1: no token auth
    t0 = time.time()
    ref = subprocess.run(collect_cmd(demo, work / "reference.jsonl", work / "ref_ckpt", "local"),
                         env=env, capture_output=True, text=True)
    print(f"uninterrupted local collection: exit {ref.returncode}, "
          f"{sum(keys(work / 'reference.jsonl').values())} rows, {time.time() - t0:.0f} s")
    head_dir, worker_dir = work / "ray_head", work / "ray_worker"
    (port,) = free_ports(1)
    ray = str(Path(sys.executable).with_name("ray"))
    head = subprocess.run([ray, "start", "--head", f"--port={port}", "--include-dashboard=false",
                           f"--ray-client-server-port={free_ports(1)[0]}", *node_args(head_dir)],
                          env=env, capture_output=True, text=True)
    worker = subprocess.run([ray, "start", f"--address=127.0.0.1:{port}",
                             *node_args(worker_dir)], env=env, capture_output=True, text=True)
    print(f"ray start --head: exit {head.returncode}; ray start --address: exit "
          f"{worker.returncode}")
    try:
        if head.returncode or worker.returncode:
            print(head.stderr[-2000:], worker.stderr[-2000:])
            return 1
        ray_env = {**env, "RAY_ADDRESS": f"127.0.0.1:{port}"}  # what "auto" resolves to
        out, ckpt = work / "ray.jsonl", work / "ray_ckpt"
        t0 = time.time()
        proc = subprocess.Popen(collect_cmd(demo, out, ckpt, "ray"), env=ray_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and not trial_running_on(worker_dir):
            time.sleep(0.2)
        seen = time.time() - t0
        time.sleep(args.kill_delay)  # mid-trial
        rows_before = sum(keys(out).values())
        still = trial_running_on(worker_dir)
        n = kill(processes_of(worker_dir))
        print(f"a trial started on the second node {seen:.0f} s into the collection; killed the "
              f"node ({n} processes) {time.time() - t0:.0f} s in; trial still running there: "
              f"{still}; {rows_before} rows written before")
        err = proc.communicate()[1]
        print(f"collection after the kill: exit {proc.returncode}, {sum(keys(out).values())} "
              f"rows, {time.time() - t0:.0f} s")
        if proc.returncode:
            print("  " + "\n  ".join(err.strip().splitlines()[-3:]))
            again = subprocess.run(collect_cmd(demo, out, ckpt, "ray"), env=ray_env,
                                   capture_output=True, text=True)
            print(f"rerun: exit {again.returncode}, {sum(keys(out).values())} rows")
        got, want = keys(out), keys(work / "reference.jsonl")
        ok = got == want and set(got.values()) == {1}
        print(f"keys: {len(got)} distinct, each {sorted(set(got.values()))} time(s); "
              f"same as the uninterrupted collection: {got == want} -> {'OK' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        n = kill({**processes_of(worker_dir), **processes_of(head_dir)})
        print(f"stopped {n} Ray processes of this script")


if __name__ == "__main__":
    sys.exit(main())
