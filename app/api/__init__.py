"""API v1: tenant systems call it with ``Authorization: Bearer <API key>``."""
