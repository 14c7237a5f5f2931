"""Row-level security: the SQL that migrations apply so PostgreSQL itself keeps tenants apart.

Policies read the transaction's scope from ``app.*`` settings (see ``app.database.scope``). The
statements here are applied by migrations; once a revision has used one, change it only through a
new function, never in place, so old revisions replay the same way.
"""

from __future__ import annotations

APP_ROLE = "shelfsync_app"

CREATE_APP_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION
    -- roles belong to the cluster: two databases migrated at once may both find it missing
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
"""

# ``shelfsync_row_visible(tenant, partner)`` is true when the current scope may read a row owned by
# ``tenant`` (or, for rows owned by a partner only, by ``partner``).
CREATE_FUNCTIONS: tuple[str, ...] = (
    """
CREATE OR REPLACE FUNCTION shelfsync_setting(name text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting(name, true), '') $$
""",
    """
CREATE OR REPLACE FUNCTION shelfsync_is_privileged() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(shelfsync_setting('app.scope') IN ('system', 'platform'), false) $$
""",
    """
CREATE OR REPLACE FUNCTION shelfsync_can_write() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(shelfsync_setting('app.read_only'), 'off') <> 'on' $$
""",
    """
CREATE OR REPLACE FUNCTION shelfsync_row_visible(row_tenant uuid, row_partner uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE shelfsync_setting('app.scope')
        WHEN 'system' THEN true
        WHEN 'platform' THEN true
        WHEN 'tenant' THEN row_tenant IS NOT NULL
            AND row_tenant = shelfsync_setting('app.tenant_id')::uuid
        WHEN 'partner' THEN
            (row_tenant IS NULL AND row_partner = shelfsync_setting('app.partner_id')::uuid)
            OR (row_tenant IS NOT NULL AND EXISTS (
                SELECT 1 FROM tenants t
                WHERE t.id = row_tenant AND t.partner_id = shelfsync_setting('app.partner_id')::uuid))
        ELSE false
    END
$$
""",
)

DROP_FUNCTIONS: tuple[str, ...] = (
    "DROP FUNCTION IF EXISTS shelfsync_row_visible(uuid, uuid)",
    "DROP FUNCTION IF EXISTS shelfsync_can_write()",
    "DROP FUNCTION IF EXISTS shelfsync_is_privileged()",
    "DROP FUNCTION IF EXISTS shelfsync_setting(text)",
)


def grant_app_role(table: str, *, append_only: bool = False) -> list[str]:
    """Statements giving the app role data access (not ownership) to ``table``; an ``append_only``
    table (the audit log) can be read and added to, never changed."""
    verbs = "SELECT, INSERT" if append_only else "SELECT, INSERT, UPDATE, DELETE"
    return [f"GRANT {verbs} ON {table} TO {APP_ROLE}"]


def enable_policies(table: str, visible: str, changeable: str | None = None) -> list[str]:
    """Turn on RLS for ``table``: rows pass when ``visible`` holds; writes need ``changeable``
    (default: ``visible``) and a writable scope."""
    writable = f"({changeable or visible}) AND shelfsync_can_write()"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_select ON {table} FOR SELECT USING ({visible})",
        f"CREATE POLICY {table}_insert ON {table} FOR INSERT WITH CHECK ({writable})",
        f"CREATE POLICY {table}_update ON {table} FOR UPDATE USING ({writable}) WITH CHECK ({writable})",
        f"CREATE POLICY {table}_delete ON {table} FOR DELETE USING ({writable})",
    ]


def tenant_owned(table: str) -> list[str]:
    """Policies for a table whose rows carry ``tenant_id`` (possibly null: platform-level rows)."""
    return enable_policies(table, "shelfsync_row_visible(tenant_id, NULL)")


def tenant_or_partner_owned(table: str) -> list[str]:
    """Policies for a table whose rows carry ``tenant_id`` and/or ``partner_id``."""
    return enable_policies(table, "shelfsync_row_visible(tenant_id, partner_id)")


def partner_owned_read_by_tenants(table: str) -> list[str]:
    """Policies for rows a partner owns (``partner_id``) that its retailers may read but not change
    (plans): the partner (or the platform) writes them; the partner's tenant scopes read them."""
    mine = "partner_id = shelfsync_setting('app.partner_id')::uuid"
    return enable_policies(
        table,
        f"shelfsync_is_privileged() OR ({mine} AND shelfsync_setting('app.scope') IN ('partner', 'tenant'))",
        f"shelfsync_is_privileged() OR ({mine} AND shelfsync_setting('app.scope') = 'partner')",
    )
