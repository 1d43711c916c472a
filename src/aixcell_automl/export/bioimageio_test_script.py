"""Run by :func:`aixcell_automl.export.check.check_package` as a script in a fresh interpreter:

    python -I bioimageio_test_script.py <rdf.yaml> <summary.json>

Validates the description with every file check (hashes, test tensor shapes), then runs
bioimageio.core's model test on every weight format; writes a JSON summary. The addresses in the
description are given to the validator as known, so it makes no web request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def _addresses(node) -> set[str]:
    if isinstance(node, dict):
        return set().union(*map(_addresses, node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*map(_addresses, node)) if node else set()
    return {node} if isinstance(node, str) and node.startswith(("http://", "https://")) else set()


def _message(entry) -> str:
    return f"{'.'.join(map(str, entry.loc))}: {entry.msg}" if entry.loc else entry.msg


def _details(summary) -> list[dict]:
    return [{"name": d.name, "status": d.status, "loc": [str(x) for x in d.loc],
             "errors": [_message(e) for e in d.errors],
             "warnings": [_message(w) for w in d.warnings]}
            for d in summary.details]


def main(rdf: str, out: str) -> None:
    from bioimageio.core import load_description_and_test
    from bioimageio.spec import InvalidDescr, load_description

    known = {url: None for url in _addresses(yaml.safe_load(Path(rdf).read_text()))}
    descr = load_description(rdf, perform_io_checks=True, known_files=known)
    result = {"format_status": descr.validation_summary.status,
              "format_version": descr.validation_summary.format_version}
    if not isinstance(descr, InvalidDescr):
        descr = load_description_and_test(descr)
    summary = descr.validation_summary
    result |= {"status": summary.status, "details": _details(summary),
               "weight_formats": sorted(w for w, e in descr.weights if e is not None)
               if not isinstance(descr, InvalidDescr) else []}
    Path(out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
