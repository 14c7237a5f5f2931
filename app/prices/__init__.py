"""Canonical prices: price lists scoped by channel and region, effective-dated, guarded."""
