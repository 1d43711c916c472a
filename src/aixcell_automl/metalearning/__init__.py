"""Meta-learning (docs/method.md §6): feature representations, meta-models, ranking and
evaluation."""
