"""Benchmarks: each prints figures next to DESIGN §8's goals, as ratios against a baseline measured in the same run."""
