"""Meta-features (SPEC §4): measurements of a dataset that the meta-model learns from."""
