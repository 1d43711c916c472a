"""Meta-learning (SPEC §6): feature representations, meta-models, ranking and evaluation."""
