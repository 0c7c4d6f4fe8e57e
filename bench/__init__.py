"""The benchmark of the whole path at scale: `python -m bench --lines 1000000` (see bench/README.md)."""
