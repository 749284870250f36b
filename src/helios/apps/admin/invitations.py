"""Accepting an invitation sent from the console: the emailed link opens this page with its
token in the fragment (never sent to a server, so never in an access log); the page's script
copies it into the form, the invited person chooses a password, and the link is used up.

No session is needed: the link's token is the credential, checked by the access decider.
"""

from __future__ import annotations

from litestar import get, post
from litestar.response import Template

from helios.apps.admin.context import Ctx
from helios.apps.admin.pages import AnyRequest, form_fields, render
from helios.apps.application.access import parse_link_token
from helios.domain.access import LinkPurpose
from helios.domain.errors import CommandRejected

PAGE = "/accept-invitation"
"""Where the console's invitation links lead (under the console's prefix)."""


@get(PAGE, name="admin-accept-invitation")
async def accept_form(ctx: Ctx, request: AnyRequest) -> Template:
    return render(ctx, "accept.html", viewer=None, problems={}, token="")


@post(PAGE, name="admin-accept-invitation-post")
async def accept(ctx: Ctx, request: AnyRequest) -> Template:
    form = await form_fields(request)
    token, password = form.get("token", ""), form.get("password", "")
    problems: dict[str, str] = {}
    if password != form.get("confirm", ""):
        problems["confirm"] = "the two passwords differ"
    if not problems:
        try:
            user = await ctx.accounts.redeem_link(
                token=token, purpose=LinkPurpose.INVITATION, password=password
            )
        except CommandRejected as rejected:
            problems = dict(rejected.problems) or {"token": rejected.message}
        else:
            parsed = parse_link_token(token)
            return render(
                ctx,
                "accepted.html",
                viewer=None,
                person=user,
                tenant=parsed[1] if parsed else "",
            )
    return render(ctx, "accept.html", viewer=None, problems=problems, token=token, status_code=400)


HANDLERS = [accept_form, accept]
