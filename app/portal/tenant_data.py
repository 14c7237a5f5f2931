"""Portal pages on a retailer's data as a whole: exports (requested by the retailer's admin or its partner's
staff, progress polled by htmx, the zip downloaded as a stream) and, for a partner admin, deleting a
retailer after typing its slug."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import File, Redirect, Template
from sqlalchemy import select

from app.database.scope import DbScope
from app.http.actor import request_actor
from app.http.state import services_of
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user
from app.tenant_data.deletion import AlreadyDeletingError, begin_deletion
from app.tenant_data.export import export_file, request_export
from app.tenant_data.models import TenantExport
from tenants.branding import Brand
from tenants.models import Tenant
from tenants.roles import Role

EXPORT_ROLES = (Role.RETAILER_ADMIN, Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR)
LISTED_EXPORTS = 20


class ExportForm(msgspec.Struct):
    tenant: str = ""


class DeleteForm(msgspec.Struct):
    confirm_slug: str = ""


def _must_export(portal_user: PortalUser) -> None:
    if portal_user.role not in EXPORT_ROLES:
        raise PermissionDeniedException("Exports are for the retailer's admins and its partner's staff.")


async def _tenant_for_export(
    request: Request[Any, Any, Any], portal_user: PortalUser, requested: str | None
) -> Tenant:
    """The retailer an export is about: the admin's own, or one of the partner's (named by id) that is
    active; 404 for any other, read in the user's own scope so RLS agrees."""
    _must_export(portal_user)
    tenant_id = portal_user.current.tenant_id
    if tenant_id is None:
        try:
            tenant_id = uuid.UUID(requested or "")
        except ValueError:
            raise NotFoundException("Choose one of your retailers.") from None
    async with services_of(request).db.transaction(portal_user.db_scope()) as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id, Tenant.status == "active"))
    if tenant is None:
        raise NotFoundException("No such retailer.")
    return tenant


async def _export_of(
    request: Request[Any, Any, Any], portal_user: PortalUser, export_id: uuid.UUID
) -> TenantExport:
    _must_export(portal_user)
    async with services_of(request).db.transaction(portal_user.db_scope()) as session:
        export = await session.get(TenantExport, export_id)
    if export is None:
        raise NotFoundException("No such export.")
    return export


class PortalExportController(Controller):
    path = "/exports"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    @get("/", operation_id="PortalListExports")
    async def list_exports(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        tenant: str | None = None,
    ) -> Template:
        """A retailer's recent exports and a button for a new one."""
        found = await _tenant_for_export(request, portal_user, tenant)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            exports = list(
                await session.scalars(
                    select(TenantExport)
                    .where(TenantExport.tenant_id == found.id)
                    .order_by(TenantExport.created_at.desc(), TenantExport.id)
                    .limit(LISTED_EXPORTS)
                )
            )
        context = {"brand": brand, "me": portal_user, "tenant": found, "exports": exports}
        return Template("exports.html", context=context)

    @post("/", operation_id="PortalRequestExport", status_code=303)
    async def start_export(
        self,
        request: Request[Any, Any, Any],
        portal_user: PortalUser,
        data: Annotated[ExportForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Queue an export of every row of the retailer; audited."""
        tenant = await _tenant_for_export(request, portal_user, data.tenant)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            export = await request_export(
                session,
                request_actor(request, "user", portal_user.user.id),
                tenant_id=tenant.id,
                requested_by=portal_user.user.id,
            )
        return Redirect(f"/exports/{export.id}", status_code=303)

    @get("/{export_id:uuid}", operation_id="PortalExport")
    async def show_export(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, export_id: uuid.UUID
    ) -> Template:
        """One export: its progress (polled) and, when done, the download link."""
        export = await _export_of(request, portal_user, export_id)
        return Template("export.html", context={"brand": brand, "me": portal_user, "export": export})

    @get("/{export_id:uuid}/progress", operation_id="PortalExportProgress")
    async def progress(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, export_id: uuid.UUID
    ) -> Template:
        """The progress block alone, for htmx's polling (it stops polling once the export has finished)."""
        export = await _export_of(request, portal_user, export_id)
        return Template("partials/export_progress.html", context={"export": export})

    @get("/{export_id:uuid}/download", operation_id="PortalDownloadExport")
    async def download(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, export_id: uuid.UUID
    ) -> File:
        """The finished zip, streamed from disk."""
        export = await _export_of(request, portal_user, export_id)
        path = export_file(services_of(request).settings, export)
        if path is None:
            raise NotFoundException("This export has no file (yet).")
        return File(
            path=path, filename=f"export-{export.created_at:%Y%m%d-%H%M%S}.zip", media_type="application/zip"
        )


class PortalRetailerDeletionController(Controller):
    path = "/partner/retailers/{tenant_id:uuid}/delete"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _tenant(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Tenant:
        if portal_user.role is not Role.PARTNER_ADMIN:
            raise PermissionDeniedException("Only a partner admin deletes a retailer.")
        partner_of(portal_user, "Deleting a retailer")
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFoundException("No such retailer.")
        return tenant

    @get("/", operation_id="PortalConfirmRetailerDeletion")
    async def confirm(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Template:
        """What deleting the retailer does, and the form asking for its slug."""
        tenant = await self._tenant(request, portal_user, tenant_id)
        context = {"brand": brand, "me": portal_user, "tenant": tenant, "error": None}
        return Template("retailer_delete.html", context=context)

    @post("/", operation_id="PortalDeleteRetailer", status_code=303)
    async def delete_retailer(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        tenant_id: uuid.UUID,
        data: Annotated[DeleteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        """Delete the retailer: keys and sessions cut now, its data erased by a job; audited."""
        tenant = await self._tenant(request, portal_user, tenant_id)
        error = None
        if tenant.status == "deleting":
            error = "This retailer is already being deleted."
        elif data.confirm_slug.strip() != tenant.slug:
            error = "Type the retailer's slug exactly to confirm."
        if error is None:
            services = services_of(request)
            # system scope: the step must see the retailer's users' memberships at any partner to know which
            # accounts belong nowhere else; the partner was checked above in the user's own scope
            try:
                async with services.db.transaction(DbScope.system()) as session:
                    await begin_deletion(
                        session,
                        request_actor(request, "user", portal_user.user.id),
                        partner_id=tenant.partner_id,
                        tenant_id=tenant.id,
                        now=services.clock.now(),
                    )
            except AlreadyDeletingError:
                error = "This retailer is already being deleted."
        if error is not None:
            context = {"brand": brand, "me": portal_user, "tenant": tenant, "error": error}
            return Template("retailer_delete.html", context=context, status_code=400)
        return Redirect("/partner/retailers", status_code=303)
