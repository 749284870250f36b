"""Page conventions shared by the admin's handlers: rendering with the signed-in person and
the section, form fields, redirects, and the session cookie."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from helios.apps.admin.context import SESSION_COOKIE, AdminContext, Viewer

AnyRequest = Request[Any, Any, Any]


def render(
    ctx: AdminContext,
    template: str,
    *,
    viewer: Viewer | None,
    section: str = "",
    status_code: int = 200,
    **context: Any,
) -> Template:
    return Template(
        template_name=template,
        context={"base": ctx.config.prefix, "viewer": viewer, "section": section, **context},
        status_code=status_code,
    )


def see_other(ctx: AdminContext, path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """A redirect after a form post (303: the browser follows it with a GET)."""
    return Redirect(ctx.url(path), status_code=HTTP_303_SEE_OTHER, cookies=cookies or [])


async def form_fields(request: AnyRequest) -> dict[str, str]:
    """A posted form's single-valued fields, stripped (the CSRF token left out)."""
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if k != "_csrf_token"}


async def form_list(request: AnyRequest, name: str) -> list[str]:
    form = await request.form()
    return [str(v) for v in form.getall(name)] if name in form else []


def session_cookie(ctx: AdminContext, request: AnyRequest, token: str, max_age: int) -> Cookie:
    """The session cookie: never readable by scripts, never sent from another site, and only
    over TLS when the console is served over TLS."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path=ctx.config.prefix or "/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        max_age=max_age,
    )


def cleared_session(ctx: AdminContext, request: AnyRequest) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path=ctx.config.prefix or "/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        max_age=0,
    )


def plain(text: str, status_code: int) -> Response[str]:
    return Response(text, status_code=status_code, media_type="text/plain")
