"""Field names of records written before 2026-12-05, read under today's names.

The validation score is the configured metric (IoU by default, ``search.metric``); trial states,
model records, meta-base and evaluation rows stored it under ``*_iou`` keys, now ``*_score``.
Test-split fields (``test_iou``, ``mean_iou``, an evaluation row's ``per_class_iou``) are IoU
whatever the metric and keep their names.
"""

from __future__ import annotations

RENAMED = {"val_iou": "val_score", "best_iou": "best_score", "best_val_iou": "best_val_score",
           "final_iou": "final_score"}


def upgrade(record: dict, validation_per_class: bool = False) -> dict:
    """``record`` under today's names (a copy; new records pass unchanged). With
    ``validation_per_class`` (meta-base rows, history entries) ``per_class_iou`` is the
    validation score per class, ``per_class_score``; a trial's ``history`` is upgraded too."""
    out = {RENAMED.get(k, k): v for k, v in record.items()}
    if validation_per_class and "per_class_iou" in out:
        out["per_class_score"] = out.pop("per_class_iou")
    if isinstance(out.get("history"), list):
        out["history"] = [upgrade(h, True) for h in out["history"]]
    return out
