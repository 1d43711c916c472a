"""Meta-features (docs/method.md §4): measurements of a dataset that the meta-model learns from."""
