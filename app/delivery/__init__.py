"""Delivery: what waits to be sent to each destination, leases, retries, circuit breaking, dead letters."""
