"""The yardstick: ground-truth labels, metrics against them, and the baseline detectors.

Modules: ``labels`` (reads the simulator's labels.jsonl), ``metrics`` (scores a results
directory), ``account_features`` (per-account Ibis aggregates), ``rate_limit`` and
``isolation_forest`` (the two baselines) and ``baselines`` (their registry and runner).
Nothing is imported here, so importing a light module does not pull in Ibis or sklearn.
"""
