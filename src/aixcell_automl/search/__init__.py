"""The search: halving and other strategies' support, budget and k, the dataset's plan, the
candidates, the run over them, and the comparison against baselines."""
