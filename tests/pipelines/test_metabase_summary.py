import json

import pandas as pd
import pytest

from aixcell_automl.metabase.agreement import fidelity_agreement
from aixcell_automl.pipelines.metabase.nodes import summarise


def _rows():
    rows = []
    for d, flip in (("a", False), ("b", True)):
        for i in range(6):  # rung 1: 6 configurations at 2^23 and 2^25
            rows.append({"dataset": d, "config_id": f"c{i}", "fidelity_pixels": 2**23,
                         "val_score": 0.1 * i, "status": "ok", "protocol": "v2",
                         "train_seconds": 60.0})
            rows.append({"dataset": d, "config_id": f"c{i}", "fidelity_pixels": 2**25,
                         "val_score": 0.1 * (5 - i if flip else i) + 0.05, "status": "ok",
                         "protocol": "v2", "train_seconds": 240.0})
        for i in range(3):
            rows.append({"dataset": d, "config_id": f"c{i}", "fidelity_pixels": 2**26,
                         "val_score": 0.2 * i, "status": "ok", "protocol": "v2",
                         "train_seconds": 480.0})
    return pd.DataFrame(rows).assign(source="ladder")


def test_fidelity_agreement_pairs_the_same_configurations_of_adjacent_rungs():
    agree = fidelity_agreement(_rows())
    assert agree["a"]["2^23->2^25"] == {"tau": pytest.approx(1.0), "n": 6,
                                        "tau_own": pytest.approx(1.0)}  # no curves: val_score
    assert agree["b"]["2^23->2^25"]["tau"] == pytest.approx(-1.0)
    assert agree["a"]["2^25->2^26"]["tau"] == pytest.approx(1.0)
    assert agree["mean"]["2^23->2^25"] == {"tau": pytest.approx(0.0), "n": 2,
                                           "tau_own": pytest.approx(0.0), "n_own": 2}


def test_own_rung_agreement_ignores_scores_carried_up_from_lower_rungs():
    # three configurations none of which improves at 2^26: best-so-far keeps the 2^25 order
    # (tau 1 by construction), their own 2^26 evaluations rank them in reverse
    rows = []
    for i, (at25, at26) in enumerate(((0.5, 0.45), (0.6, 0.40), (0.7, 0.35))):
        curve25 = [[2**23, 0.1 * i], [2**25, at25]]
        for fid, curve in ((2**23, curve25[:1]), (2**25, curve25),
                           (2**26, [*curve25, [2**26, at26]])):
            rows.append({"dataset": "a", "config_id": f"c{i}", "fidelity_pixels": fid,
                         "val_score": max(v for _, v in curve), "curve": json.dumps(curve),
                         "status": "ok", "protocol": "v2"})
    agree = fidelity_agreement(pd.DataFrame(rows))["a"]
    assert agree["2^25->2^26"]["tau"] == pytest.approx(1.0)
    assert agree["2^25->2^26"]["tau_own"] == pytest.approx(-1.0)
    assert agree["2^23->2^25"]["tau_own"] == pytest.approx(1.0)


def test_summary_keeps_protocols_apart():
    v1 = pd.DataFrame([{"dataset": "a", "config_id": f"x{i}", "fidelity_pixels": 2**23,
                        "val_score": 0.5, "status": "ok", "train_seconds": 60.0} for i in range(4)])
    frame = pd.concat([_rows(), v1], ignore_index=True)
    clean, summary, stats = summarise(frame)
    assert stats["rows_by_protocol"] == {"v2": 30, "v1": 4}
    a23 = summary.set_index(["protocol", "dataset", "fidelity_pixels"]).loc[("v2", "a", 2**23)]
    assert a23["rows"] == 6 and a23["score_max"] == pytest.approx(0.5)
    assert set(stats["fidelity_agreement"]) == {"a", "b", "mean"}  # v2 rows only
    # ladder rows hold running totals: per dataset 3 configurations end at 480 s, 3 at 240 s
    assert stats["train_hours"] == pytest.approx((2 * (3 * 480 + 3 * 240) + 4 * 60) / 3600)
