"""The dataset contract and what every layer uses: search space, patching, class sampling,
normalisation, metrics, errors, atomic writes, the demo data."""
