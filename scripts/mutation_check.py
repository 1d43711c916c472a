"""Mutation check: break each of five core rules in a temp copy of ``src/`` and show that a test
fails (docs/testing.md).

For every rule the script copies ``src/aixcell_automl`` to a temp folder, applies one textual
patch (the original text must occur exactly once, so a refactoring that moves it makes the
script fail instead of silently testing nothing), and runs the rule's tests with ``PYTHONPATH``
pointing at the mutated copy (checked: the tests import the copy, not ``src/``). The same tests
are first run on the unmutated copy, which must pass. The repository is never modified.

    .venv/bin/python scripts/mutation_check.py            # all five rules
    .venv/bin/python scripts/mutation_check.py halving    # one rule

Prints a Markdown table (rule, mutation, test that failed, command); exit status 1 when a
mutation survives (every test passed with it) or a control run fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"


@dataclass
class Mutation:
    rule: str
    file: str  # relative to src/aixcell_automl
    original: str
    mutated: str
    description: str
    tests: list[str]


MUTATIONS = [
    Mutation("sampling", "core/sampling.py",
             "rarest = share.argmin(axis=1)", "rarest = share.argmax(axis=1)",
             "class-based patch sampling: a patch takes the factor of its *commonest* class",
             ["tests/core/test_sampling.py"]),
    Mutation("halving", "search/halving.py",
             'ranked = sorted(alive, key=lambda c: (-done[(i, c["config_id"])]["score"],',
             'ranked = sorted(alive, key=lambda c: (done[(i, c["config_id"])]["score"],',
             "successive halving promotes the worst half instead of the best",
             ["tests/search/test_halving.py"]),
    Mutation("plan", "core/plan_rules.py",
             "patch = max(p for p in (64, 128, 256) if p <= max(64.0, side / 2))",
             "patch = max(p for p in (64, 128, 256) if p <= max(64.0, side))",
             "the plan's patch size: not above the mean image side instead of half of it",
             ["tests/search/test_plan.py", "tests/metalearning/test_evaluation.py"]),
    Mutation("lodo", "metalearning/evaluation.py",
             'train = rows[rows["dataset"] != held].reset_index(drop=True)',
             "train = rows.reset_index(drop=True)",
             "leave-one-dataset-out: the meta-model also trains on the held-out dataset",
             ["tests/pipelines/test_meta_learning.py::"
              "test_lodo_predictions_never_train_on_the_held_out_dataset",
              "tests/metalearning/test_evaluation.py"]),
    Mutation("append_row", "metabase/store.py",
             'if os.fstat(fd).st_size and _last_byte(path) != b"\\n":', "if False:",
             "the meta-base's append: a row after a crash-cut partial line is not started on a "
             "fresh line (it merges into the broken line and is lost)",
             ["tests/metabase/test_metabase.py"]),
]


def pytest_cmd(tests: list[str]) -> list[str]:
    return [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-m",
            "not slow", *tests]


def run_tests(src: Path, tests: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src), "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    where = subprocess.run([str(PYTHON), "-c", "import aixcell_automl; "
                            "print(aixcell_automl.__file__)"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=300, check=True)
    if not where.stdout.strip().startswith(str(src)):
        raise RuntimeError(f"the tests would import {where.stdout.strip()}, not the copy {src}")
    return subprocess.run(pytest_cmd(tests), env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=1800)


def first_failure(output: str) -> str:
    found = re.findall(r"^FAILED (\S+)", output, flags=re.M)
    return found[0] if found else "(none)"


def check(m: Mutation, work: Path) -> dict:
    src = work / m.rule / "src"
    shutil.copytree(REPO / "src" / "aixcell_automl", src / "aixcell_automl",
                    ignore=shutil.ignore_patterns("__pycache__"))
    control = run_tests(src, m.tests)
    if control.returncode != 0:
        return {"rule": m.rule, "ok": False,
                "failed": f"control run failed: {first_failure(control.stdout)}"}
    path = src / "aixcell_automl" / m.file
    text = path.read_text()
    if text.count(m.original) != 1:
        raise RuntimeError(f"{m.file}: the text to mutate occurs {text.count(m.original)} "
                           f"times, not once: {m.original!r}")
    path.write_text(text.replace(m.original, m.mutated))
    mutated = run_tests(src, m.tests)
    failed = first_failure(mutated.stdout)
    return {"rule": m.rule, "ok": mutated.returncode != 0 and failed != "(none)",
            "failed": failed}


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or m.rule in argv]
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="mutation_") as tmp:
        for m in chosen:
            r = check(m, Path(tmp))
            ok &= r["ok"]
            args = " ".join(f'"{a}"' if " " in a else a for a in pytest_cmd(m.tests)[1:])
            cmd = f"PYTHONPATH=<mutated copy>/src .venv/bin/python {args}"
            rows.append(f"| {m.rule} | `{m.file}`: {m.description} (`{m.original}` -> "
                        f"`{m.mutated}`) | {'caught: ' if r['ok'] else 'NOT CAUGHT: '}"
                        f"`{r['failed']}` | `{cmd}` |")
            print(rows[-1], flush=True)
    print("\n| rule | mutation | test that failed | command |\n|---|---|---|---|")
    print("\n".join(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
