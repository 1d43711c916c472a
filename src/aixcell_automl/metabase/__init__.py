"""The meta-base (docs/metabase.md): pipelines already evaluated on other datasets, one row per
(dataset, configuration, fidelity, protocol): the store, one trial, the ladder that plans which
trials to run, the collector, cleaning and the agreement between fidelities."""
