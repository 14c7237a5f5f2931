"""Shopify (Admin GraphQL API): the template, its operations, cost throttling, webhooks and recipes."""
