"""bioimage.io checks of a written package: format validation (bioimageio.spec) and the model
test (bioimageio.core: every weight format must reproduce the test output from the test input
within the spec's tolerance), offline.

They run in a fresh interpreter without the project's ``TF_USE_LEGACY_KERAS``, as in a
bioimage.io user's environment: bioimageio.core loads SavedModels with Keras 3's ``TFSMLayer``,
which tf-keras lacks. Offline: the package's only remote references are the web addresses of
citations, which are passed to the validator as known, so it requests none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_SCRIPT = Path(__file__).with_name("bioimageio_test_script.py")
_PROJECT_ENV = ("TF_USE_LEGACY_KERAS", "SM_FRAMEWORK")


def check_package(folder: Path | str, timeout: float = 900) -> dict:
    """``{"status": "passed" | "failed", "details": [...], ...}`` for the package folder."""
    rdf = Path(folder).resolve() / "rdf.yaml"
    if not rdf.exists():
        raise FileNotFoundError(f"{rdf}: not a bioimage.io package (no rdf.yaml)")
    env = {k: v for k, v in os.environ.items() if k not in _PROJECT_ENV}
    with tempfile.TemporaryDirectory() as work:  # bioimageio.core unzips weights into the cwd
        out = Path(work) / "summary.json"
        run = subprocess.run([sys.executable, "-I", str(_SCRIPT), str(rdf), str(out)], cwd=work,
                             env=env, capture_output=True, text=True, timeout=timeout)
        if not out.exists():
            return {"status": "failed", "details": [],
                    "error": f"the check did not finish (exit {run.returncode}): "
                             f"{(run.stderr or run.stdout)[-3000:]}"}
        return json.loads(out.read_text())
