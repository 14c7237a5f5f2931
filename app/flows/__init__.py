"""Flows (domain + source + destinations + recipes + trigger) and the runs that record their work."""
