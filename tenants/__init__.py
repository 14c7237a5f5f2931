"""Tenancy: partners, retailers (tenants), users, memberships and roles, branding, API keys, audit,
and the row-level security that keeps one tenant's rows away from another."""
