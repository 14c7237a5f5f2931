"""Mapping recipes stored per tenant: versioned specs, validated and test-run on save, previewed."""
