"""Command line: ``python -m aixcell_automl <command>`` (also installed as ``aixcell-automl``).

Commands map one-to-one to core functions; Kedro pipelines call the same functions. An error the
user can fix (:class:`aixcell_automl.core.errors.UserError`) ends with its message and exit status
1; ``--verbose`` shows its traceback too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from aixcell_automl.core.errors import UserError


def _plugins(args) -> int:
    from aixcell_automl.plugins import registry
    from aixcell_automl.plugins.kinds import KINDS
    from aixcell_automl.plugins.manager import list_plugins

    for row in list_plugins():
        print(f"{row['name']:<48} {row['origin']:<12} {row['distribution']:<28} {row['status']}")
        if row["hooks"]:
            print(f"    hooks: {', '.join(row['hooks'])}")
    for kind in KINDS:
        print(f"{kind.title}: {', '.join(sorted(registry.specs(kind.name)))}")
    return 0


def _demo(args) -> int:
    from aixcell_automl.core.demo_data import ensure_demo_dataset

    print(ensure_demo_dataset(Path(args.out), n_images=args.n_images, seed=args.seed))
    return 0


def _validate(args) -> int:
    """Print the dataset's warnings and problems; exit status 1 if it has problems."""
    from aixcell_automl.core.dataset import validate_dataset

    problems, warnings = validate_dataset(args.path)
    for w in warnings:
        print(f"warning: {w}")
    for p in problems:
        print(f"error: {p}")
    print(f"{args.path}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def _init_dataset(args) -> int:
    from aixcell_automl.core.dataset import write_starter_yaml

    path, _, _ = write_starter_yaml(args.path, force=args.force)
    print(f"wrote {path}:\n{path.read_text()}")
    return _validate(args)


def _conf_space(parameters: str) -> dict:
    """The search space of the project's parameters file (``search_space``), the one the
    pipelines use."""
    import yaml

    path = Path(parameters)
    if not path.is_file():
        raise UserError(f"{path}: no parameters file (run from the project folder or set "
                        f"--parameters)")
    space = (yaml.safe_load(path.read_text()) or {}).get("search_space")
    if not space:
        raise UserError(f"{path}: no search_space")
    return space


def _metabase(args) -> int:
    from aixcell_automl.core.search_space import build_space, enumerate_configs
    from aixcell_automl.metabase.collect import collect, collect_named
    from aixcell_automl.metabase.ladder import LADDER, parse_ladder

    root = Path(args.datasets_root)
    paths = [str(root / d) for d in args.datasets.split(",")]
    options = json.loads(args.executor_options) if args.executor_options else {}
    configs = enumerate_configs(build_space(_conf_space(args.parameters)))
    if args.configs:  # exactly these configurations (e.g. to place a search's winner)
        wanted = {x.strip() for x in args.configs.split(",") if x.strip()}
        configs = [c for c in configs if c["config_id"] in wanted]
        missing = wanted - {c["config_id"] for c in configs}
        if missing:
            raise SystemExit(f"unknown configuration id(s): {', '.join(sorted(missing))}")
        collect_named(paths, args.out, configs, fidelity_pixels=args.fidelity_pixels,
                               seed=args.seed, executor=args.executor, executor_options=options)
        return 0
    collect(paths, args.out, configs, checkpoints=args.checkpoints, seed=args.seed,
                     executor=args.executor, executor_options=options,
                     max_trials=args.max_trials, max_minutes=args.minutes,
                     ladder=parse_ladder(args.ladder) if args.ladder else LADDER)
    return 0


def _merge(args) -> int:
    from aixcell_automl.metabase.store import merge

    print(f"{merge(args.sources, args.dest)} new rows appended to {args.dest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from aixcell_automl.metabase.ladder import FIRST_FIDELITY

    parser = argparse.ArgumentParser(prog="aixcell-automl", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plugins", help="list registered plugins and what they provide")
    p = sub.add_parser("demo", help="write the synthetic demo dataset")
    p.add_argument("--out", default="data/01_raw/demo")
    p.add_argument("--n-images", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("validate", help="check a dataset folder against the contract")
    p.add_argument("path")
    p = sub.add_parser("init-dataset", help="write a starter dataset.yaml for a folder with "
                       "images/ and masks/ (class count and mask encoding read from the masks)")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="replace an existing dataset.yaml")
    p = sub.add_parser("metabase", help="collect meta-base rows (resumable)")
    p.add_argument("--datasets-root", default="../shared/datasets")
    p.add_argument("--datasets", required=True, help="comma-separated folder names")
    p.add_argument("--out", default="data/03_primary/metabase.jsonl")
    p.add_argument("--checkpoints", default="data/03_primary/metabase_checkpoints",
                   help="where ladder trials keep checkpoints while they can be promoted")
    p.add_argument("--fidelity-pixels", type=int, default=FIRST_FIDELITY, help="for --configs")
    p.add_argument("--parameters", default="conf/base/parameters.yml",
                   help="the project parameters whose search_space is sampled")
    p.add_argument("--ladder", default=None,
                   help='rungs as "configs@log2 pixels:best promoted"; '
                        'default "12@23:4,6@25:2,3@26"')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-trials", type=int, default=None)
    p.add_argument("--executor", default="isolated", choices=["isolated", "local", "ray"])
    p.add_argument("--executor-options", default=None, help='JSON, e.g. {"address": "auto"}')
    p.add_argument("--minutes", type=float, default=None, help="stop starting trials after this")
    p.add_argument("--configs", default=None,
                   help="comma-separated configuration ids to train at --fidelity-pixels instead "
                        "of the ladder (all of them on every dataset; rows are marked "
                        "source=named)")
    p = sub.add_parser("metabase-merge", help="append rows of other meta-base files (no dups)")
    p.add_argument("sources", nargs="+")
    p.add_argument("--dest", default="data/03_primary/metabase.jsonl")
    args = parser.parse_args(argv)
    verbose = args.verbose or args.command == "metabase"
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = {"plugins": _plugins, "demo": _demo, "validate": _validate,
               "init-dataset": _init_dataset, "metabase": _metabase,
               "metabase-merge": _merge}[args.command]
    try:
        return command(args)
    except UserError as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
