"""Connections: a tenant's configured instances of connector templates, and partners' derived templates."""
