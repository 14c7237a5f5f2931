"""Connectors: the SDK, the canonical retail model, mapping recipes and built-in templates.

Nothing here imports ``app`` or ``tenants``: a connector takes config, secrets, a rate limiter and a
clock, and returns records and results. The SDK lands with the connector issue.
"""
