"""Integrations pages: a tenant's integrations with their delivery counts and whether a
secret is still one recorded in plain text; creating one (its key shown once, on the answer
to the form, never on a page that can be opened again), rotating its routing key or signing
secret with an overlap window, and revoking it."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from helios.apps.admin.context import AdminContext, Ctx, Viewer
from helios.apps.admin.pages import AnyRequest, form_fields, render, see_other
from helios.apps.application import integrations
from helios.apps.application.tenancy import DEFAULT_KEY_GRACE_MS, Issued
from helios.domain.errors import CommandRejected
from helios.domain.values import SourceKind

KINDS = tuple(k.value for k in SourceKind if k is not SourceKind.USER)
PAGERDUTY_PATHS = {
    SourceKind.PAGERDUTY: "/v2/enqueue",
    SourceKind.PAGERDUTY_CHANGE: "/v2/change/enqueue",
}
DEFAULT_GRACE_S = DEFAULT_KEY_GRACE_MS // 1000
GRACE_DIGITS = 9
"""The longest overlap the form reads (up to ~31 years): a number, not a rule."""


@get("/integrations", name="admin-integrations")
async def integrations_page(
    ctx: Ctx, request: AnyRequest, revoked: FromQuery[str] = ""
) -> Template:
    viewer, _ = await ctx.caller(request)
    return await _list_page(ctx, viewer, revoked=revoked)


async def _list_page(
    ctx: AdminContext,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    problems: tuple[tuple[str, str], ...] = (),
    revoked: str = "",
    status_code: int = 200,
) -> Template:
    db = await ctx.read_models()
    tenant = viewer.scope
    found = await anyio.to_thread.run_sync(
        lambda: integrations.overview(ctx.tenancy, db, tenant=tenant)
    )
    now = ctx.clock()
    gone = next((o.integration for o in found if o.integration.integration_id == revoked), None)
    notice = ""
    if gone is not None and gone.revoked_at:
        notice = f"Revoked {gone.name}: nothing it sends is accepted any more."
    return render(
        ctx,
        "integrations.html",
        viewer=viewer,
        section="integrations",
        status_code=status_code,
        found=tuple(reversed(found)),
        legacy={o.integration.integration_id: o.integration.legacy_secret(now) for o in found},
        now=now,
        kinds=KINDS,
        form=form or {"kind": SourceKind.ALERTMANAGER.value},
        problems=dict(problems),
        notice=notice,
        default_grace_s=DEFAULT_GRACE_S,
    )


@post("/integrations", name="admin-integrations-create")
async def create(ctx: Ctx, request: AnyRequest) -> Template:
    viewer, _ = await ctx.caller(request)
    form = await form_fields(request)
    kind, name = form.get("kind", ""), form.get("name", "")
    if kind not in KINDS:
        return await _list_page(
            ctx, viewer, form=form, problems=(("kind", "choose a kind"),), status_code=422
        )
    tenant = viewer.scope
    try:
        issued = await anyio.to_thread.run_sync(
            lambda: ctx.tenancy.create_integration(
                tenant_id=tenant, kind=SourceKind(kind), name=name, by=viewer.actor
            )
        )
    except CommandRejected as rejected:
        return await _list_page(ctx, viewer, form=form, problems=rejected.problems, status_code=422)
    return _issued_page(ctx, viewer, issued, title="Integration created")


def _issued_page(ctx: AdminContext, viewer: Viewer, issued: Issued, *, title: str) -> Template:
    """The one page that shows a new key or secret: the answer to the form that made it."""
    return render(
        ctx,
        "integration_issued.html",
        viewer=viewer,
        section="integrations",
        status_code=201,
        title=title,
        issued=issued,
        ingest=_ingest_address(ctx, issued),
    )


def _ingest_address(ctx: AdminContext, issued: Issued) -> str:
    """Where the sender posts (PagerDuty's kinds: the key goes in the body's routing_key)."""
    base = ctx.services.settings.effective_public_url.rstrip("/")
    kind = issued.integration.kind
    if kind in PAGERDUTY_PATHS:
        return f"{base}{PAGERDUTY_PATHS[kind]}"
    return f"{base}/v1/ingest/{kind.value}/{issued.routing_key}"


def _grace_s(form: dict[str, str]) -> int | None:
    text = form.get("grace", "") or str(DEFAULT_GRACE_S)
    return int(text) if text.isdigit() and len(text) <= GRACE_DIGITS else None


async def _rotate(
    ctx: AdminContext,
    request: AnyRequest,
    integration_id: str,
    action: Callable[[int, dict[str, str], str], Issued],
    title: str,
) -> Template:
    viewer, _ = await ctx.caller(request)
    form = await form_fields(request)
    tenant = viewer.scope
    try:
        await anyio.to_thread.run_sync(
            lambda: integrations.of_tenant(
                ctx.tenancy, tenant=tenant, integration_id=integration_id
            )
        )
    except integrations.NoSuchIntegration as missing:
        raise NotFoundException("no such integration") from missing
    grace_s = _grace_s(form)
    if grace_s is None:
        problem = ("grace", "a whole number of seconds, 0 or more")
        return await _list_page(ctx, viewer, problems=(problem,), status_code=422)
    try:
        issued = await anyio.to_thread.run_sync(lambda: action(grace_s, form, viewer.actor))
    except CommandRejected as rejected:
        return await _list_page(ctx, viewer, problems=rejected.problems, status_code=422)
    return _issued_page(ctx, viewer, issued, title=title)


@post("/integrations/{integration_id:str}/rotate", name="admin-integration-rotate")
async def rotate_key(ctx: Ctx, request: AnyRequest, integration_id: FromPath[str]) -> Template:
    def action(grace_s: int, _: dict[str, str], actor: str) -> Issued:
        return ctx.tenancy.rotate_routing_key(
            integration_id=integration_id, grace_ms=grace_s * 1000, by=actor
        )

    return await _rotate(ctx, request, integration_id, action, "Routing key rotated")


@post("/integrations/{integration_id:str}/signing-secret", name="admin-integration-secret")
async def rotate_secret(ctx: Ctx, request: AnyRequest, integration_id: FromPath[str]) -> Template:
    def action(grace_s: int, form: dict[str, str], actor: str) -> Issued:
        given = form.get("signing_secret", "")
        return ctx.tenancy.rotate_signing_secret(
            integration_id=integration_id,
            grace_ms=grace_s * 1000,
            secret=given or None,
            by=actor,
        )

    return await _rotate(ctx, request, integration_id, action, "Signing secret set")


@post("/integrations/{integration_id:str}/revoke", name="admin-integration-revoke")
async def revoke(
    ctx: Ctx, request: AnyRequest, integration_id: FromPath[str]
) -> Template | Redirect:
    viewer, _ = await ctx.caller(request)
    tenant = viewer.scope

    def act() -> None:
        integrations.of_tenant(ctx.tenancy, tenant=tenant, integration_id=integration_id)
        ctx.tenancy.revoke_integration(integration_id=integration_id, by=viewer.actor)

    try:
        await anyio.to_thread.run_sync(act)
    except integrations.NoSuchIntegration as missing:
        raise NotFoundException("no such integration") from missing
    return see_other(ctx, f"/integrations?revoked={integration_id}")


HANDLERS = [integrations_page, create, rotate_key, rotate_secret, revoke]
