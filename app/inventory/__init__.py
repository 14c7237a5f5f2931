"""Canonical stock: balances per SKU × location, the movements that changed them, reservations."""
