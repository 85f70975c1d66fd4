"""The benchmark suite: ``python -m bench`` (or ``make bench``). Each figure beside its baseline."""
