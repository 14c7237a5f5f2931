"""Benchmarks: each prints figures next to DESIGN §8 goals, as ratios against a baseline from the same run."""
