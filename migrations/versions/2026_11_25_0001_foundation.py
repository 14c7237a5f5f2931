"""Foundation: partners, tenants, users, memberships, API keys, audit log, outbox, mail; RLS.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:39:35.551543
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants import rls

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("partner_id", sa.UUID(), nullable=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_partner_time", "audit_log", ["partner_id", "occurred_at"], unique=False)
    op.create_index("ix_audit_log_tenant_time", "audit_log", ["tenant_id", "occurred_at"], unique=False)
    op.create_table(
        "outbound_mail",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_mail")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("lane", sa.String(length=16), server_default="bulk", nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "available_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["available_at", "id"],
        unique=False,
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("custom_domain", sa.String(length=253), nullable=True),
        sa.Column("logo_url", sa.String(length=2048), nullable=True),
        sa.Column("favicon_url", sa.String(length=2048), nullable=True),
        sa.Column("primary_color", sa.String(length=7), server_default="#1f4e79", nullable=False),
        sa.Column("accent_color", sa.String(length=7), server_default="#f0a500", nullable=False),
        sa.Column("support_email", sa.String(length=320), nullable=True),
        sa.Column("footer_text", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("accent_color ~ '^#[0-9a-fA-F]{6}$'", name=op.f("ck_partners_accent_color_hex")),
        sa.CheckConstraint("primary_color ~ '^#[0-9a-fA-F]{6}$'", name=op.f("ck_partners_primary_color_hex")),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'", name=op.f("ck_partners_slug_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("custom_domain", name=op.f("uq_partners_custom_domain")),
        sa.UniqueConstraint("slug", name=op.f("uq_partners_slug")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "password_reset_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_reset_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_password_reset_tokens_user_id"), "password_reset_tokens", ["user_id"], unique=False
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=63), server_default="standard", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'", name=op.f("ck_tenants_slug_format")
        ),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_tenants_status_known")),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_tenants_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("partner_id", "slug", name=op.f("uq_tenants_partner_id_slug")),
    )
    op.create_index(op.f("ix_tenants_partner_id"), "tenants", ["partner_id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(role = 'platform_admin' AND partner_id IS NULL AND tenant_id IS NULL) OR (role IN ('partner_admin', 'partner_operator')     AND partner_id IS NOT NULL AND tenant_id IS NULL) OR (role IN ('retailer_admin', 'retailer_viewer')     AND partner_id IS NOT NULL AND tenant_id IS NOT NULL)",
            name=op.f("ck_memberships_role_matches_reach"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_memberships_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_memberships_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "user_id",
            "partner_id",
            "tenant_id",
            name=op.f("uq_memberships_user_id_partner_id_tenant_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_memberships_partner_id"), "memberships", ["partner_id"], unique=False)
    op.create_index(op.f("ix_memberships_tenant_id"), "memberships", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"], unique=False)
    _secure()


TENANT_TABLES = ("api_keys", "outbox")
TENANT_OR_PARTNER_TABLES = ("audit_log", "outbound_mail")
ALL_TABLES = (
    "partners",
    "tenants",
    "users",
    "memberships",
    "password_reset_tokens",
    *TENANT_TABLES,
    *TENANT_OR_PARTNER_TABLES,
)

MEMBERSHIP_VISIBLE = (
    "shelfsync_is_privileged()"
    " OR user_id = shelfsync_setting('app.user_id')::uuid"
    " OR (tenant_id IS NOT NULL AND shelfsync_row_visible(tenant_id, NULL))"
    " OR (tenant_id IS NULL AND shelfsync_setting('app.scope') = 'partner'"
    "     AND partner_id = shelfsync_setting('app.partner_id')::uuid)"
)
# Who may grant or change a membership: the platform; a partner scope for its own partner's partner
# and retailer roles (of its own tenants); a tenant scope for retailer roles of that tenant. Nobody
# but the platform changes their own memberships, so nobody promotes themselves.
MEMBERSHIP_CHANGEABLE = (
    "shelfsync_is_privileged()"
    " OR (user_id IS DISTINCT FROM shelfsync_setting('app.user_id')::uuid AND ("
    "   (shelfsync_setting('app.scope') = 'partner' AND role <> 'platform_admin'"
    "    AND partner_id = shelfsync_setting('app.partner_id')::uuid"
    "    AND (tenant_id IS NULL OR shelfsync_row_visible(tenant_id, NULL)))"
    "   OR (shelfsync_setting('app.scope') = 'tenant' AND role IN ('retailer_admin', 'retailer_viewer')"
    "    AND tenant_id IS NOT NULL AND shelfsync_row_visible(tenant_id, NULL))))"
)
# Users change their own row; anyone else's only Shelfsync itself or the platform.
USER_CHANGEABLE = "shelfsync_is_privileged() OR id = shelfsync_setting('app.user_id')::uuid"
USER_VISIBLE = (
    "shelfsync_is_privileged()"
    " OR id = shelfsync_setting('app.user_id')::uuid"
    " OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id)"
)
TENANT_ROW_VISIBLE = (
    "shelfsync_is_privileged()"
    " OR (shelfsync_setting('app.scope') = 'tenant' AND id = shelfsync_setting('app.tenant_id')::uuid)"
    " OR (shelfsync_setting('app.scope') = 'partner'"
    "     AND partner_id = shelfsync_setting('app.partner_id')::uuid)"
)
PARTNER_WRITABLE = (
    "(shelfsync_is_privileged() OR (shelfsync_setting('app.scope') = 'partner'"
    " AND id = shelfsync_setting('app.partner_id')::uuid)) AND shelfsync_can_write()"
)


def _secure() -> None:
    """The app role, the scope functions, grants, row-level security and the outbox wake-up."""
    op.execute(rls.CREATE_APP_ROLE)
    # The migrating role may switch to the app role (needed when it is not a superuser).
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT pg_has_role(current_user, '{rls.APP_ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {rls.APP_ROLE} TO %I', current_user);
            END IF;
        END
        $$
        """
    )
    for statement in rls.CREATE_FUNCTIONS:
        op.execute(statement)
    for table in ALL_TABLES:
        for statement in rls.grant_app_role(table, append_only=table == "audit_log"):
            op.execute(statement)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {rls.APP_ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {rls.APP_ROLE}")
    for table in TENANT_TABLES:
        for statement in rls.tenant_owned(table):
            op.execute(statement)
    for table in TENANT_OR_PARTNER_TABLES:
        for statement in rls.tenant_or_partner_owned(table):
            op.execute(statement)
    for statement in rls.enable_policies("tenants", TENANT_ROW_VISIBLE):
        op.execute(statement)
    for statement in rls.enable_policies("memberships", MEMBERSHIP_VISIBLE, MEMBERSHIP_CHANGEABLE):
        op.execute(statement)
    for statement in rls.enable_policies("users", USER_VISIBLE, USER_CHANGEABLE):
        op.execute(statement)
    # Reset tokens are only ever handled by Shelfsync itself (system scope).
    for statement in rls.enable_policies("password_reset_tokens", "shelfsync_is_privileged()"):
        op.execute(statement)
    # Branding is public (the login page shows it); only the partner or the platform changes it.
    op.execute("ALTER TABLE partners ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY partners_select ON partners FOR SELECT USING (true)")
    op.execute("CREATE POLICY partners_insert ON partners FOR INSERT WITH CHECK (shelfsync_is_privileged())")
    op.execute(
        f"CREATE POLICY partners_update ON partners FOR UPDATE USING ({PARTNER_WRITABLE})"
        f" WITH CHECK ({PARTNER_WRITABLE})"
    )
    op.execute("CREATE POLICY partners_delete ON partners FOR DELETE USING (shelfsync_is_privileged())")
    # Workers LISTEN on this channel and relay new outbox rows at once instead of polling.
    op.execute(
        """
        CREATE FUNCTION shelfsync_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('shelfsync_outbox', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION shelfsync_outbox_notify()
        """
    )


def _unsecure() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS shelfsync_outbox_notify()")
    for table in ALL_TABLES:
        for command in ("select", "insert", "update", "delete"):
            op.execute(f"DROP POLICY IF EXISTS {table}_{command} ON {table}")
        op.execute(f"REVOKE ALL ON {table} FROM {rls.APP_ROLE}")
    op.execute(f"REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM {rls.APP_ROLE}")
    # Tables are dropped with their policies; the functions are used by the policies, so go last.
    # The role is cluster-wide (other databases may use it), so it stays.


def downgrade() -> None:
    _unsecure()
    op.drop_index(op.f("ix_memberships_user_id"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_tenant_id"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_partner_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_api_keys_tenant_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_tenants_partner_id"), table_name="tenants")
    op.drop_table("tenants")
    op.drop_index(op.f("ix_password_reset_tokens_user_id"), table_name="password_reset_tokens")
    op.drop_table("password_reset_tokens")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_table("partners")
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("processed_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("outbound_mail")
    op.drop_index("ix_audit_log_tenant_time", table_name="audit_log")
    op.drop_index("ix_audit_log_partner_time", table_name="audit_log")
    op.drop_table("audit_log")
    for statement in rls.DROP_FUNCTIONS:
        op.execute(statement)
