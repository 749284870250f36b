"""A user's life by email: invitations, and password resets asked for by the user.

Each one-time link is recorded by the access decider (``AccessService``), then sent through the
``Mailer`` port as text and HTML rendered from the templates of ``mail/``. The link carries its
token in the URL's fragment (``#token=…``), which browsers never send to a server, so it stays
out of access logs; the page it opens posts the token back to the API.

A password reset is asked for with a tenant and an email, by someone not logged in: the answer
is the same whether the email belongs to a user or not (the HTTP handler does the work after
answering), and at most ``RESET_BURST`` emails a ``RESET_INTERVAL_MS`` go to one address, so
the form cannot be used to flood anyone's mailbox.
"""

from __future__ import annotations

import hashlib
import html
import string
from datetime import UTC, datetime
from functools import cache
from importlib import resources

import anyio.to_thread
import attrs
import structlog

from helios.apps.application.access import AccessService, IssuedLink
from helios.domain import access
from helios.domain.access import LinkPurpose, Role
from helios.domain.values import Millis
from helios.ports.mailer import Mailer, MailerError, MailMessage
from helios.ports.rate_limit import LimiterUnavailable, RateLimiter

RESET_BURST = 3
RESET_INTERVAL_MS = 3600 * 1000
_PAGES = {LinkPurpose.INVITATION: "accept-invitation", LinkPurpose.PASSWORD_RESET: "reset-password"}
_SUBJECTS = {
    LinkPurpose.INVITATION: "You are invited to Helios ({tenant})",
    LinkPurpose.PASSWORD_RESET: "Reset your Helios password ({tenant})",
}
_log = structlog.get_logger("helios.people")


@attrs.frozen(kw_only=True)
class Invited:
    """An invited user, when their link expires, and whether the email went out (when not,
    the invitation can be sent again)."""

    user: access.User
    expires_at: Millis
    emailed: bool


@cache
def _template(name: str) -> string.Template:
    text = resources.files("helios.apps.application").joinpath("mail", name).read_text("utf-8")
    return string.Template(text)


def link_url(issued: IssuedLink, *, public_url: str) -> str:
    """The address a one-time link opens (its token in the fragment)."""
    return f"{public_url.rstrip('/')}/{_PAGES[issued.record.purpose]}#token={issued.token}"


def render_link_email(
    issued: IssuedLink, *, tenant_id: str, public_url: str, sender: str, inviter: str = ""
) -> MailMessage:
    """The email that carries a one-time link to its user (text and HTML)."""
    purpose = issued.record.purpose
    link = link_url(issued, public_url=public_url)
    expires = datetime.fromtimestamp(issued.record.expires_at / 1000, UTC)
    values = {
        "tenant": tenant_id,
        "role": issued.user.role.value,
        "email": issued.user.email,
        "inviter": inviter or "An administrator",
        "link": link,
        "expires": expires.strftime("%Y-%m-%d %H:%M"),
    }
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    return MailMessage(
        message_id=f"{issued.record.link_id}@helios",
        sender=sender,
        recipients=(issued.user.email,),
        subject=_SUBJECTS[purpose].format(tenant=tenant_id),
        text=_template(f"{purpose.value}.txt").substitute(values),
        html=_template(f"{purpose.value}.html").substitute(escaped),
    )


@attrs.frozen(kw_only=True)
class PeopleMail:
    """Invitations and password resets: record the link, then email it."""

    service: AccessService
    mailer: Mailer
    sender: str
    public_url: str
    limiter: RateLimiter | None = None

    async def invite(self, *, tenant_id: str, email: str, role: Role, by: str = "") -> Invited:
        """Create a user without a password and email them an invitation link.

        Raises:
            RoleNotGranted: ``by`` (a user of the tenant) may not give ``role``.
            CommandRejected: unknown tenant, a malformed or taken email.
            StoreUnavailable: the store could not be reached.
        """
        issued = await anyio.to_thread.run_sync(
            lambda: self.service.invite(tenant_id=tenant_id, email=email, role=role, by=by)
        )
        return await self._send(tenant_id, issued, by)

    async def resend_invitation(self, *, tenant_id: str, user_id: str, by: str = "") -> Invited:
        """A new invitation link for a user who has not accepted one (the old link stops
        working).

        Raises:
            CommandRejected: unknown or deactivated user, or one who has a password already.
            StoreUnavailable: the store could not be reached.
        """
        issued = await anyio.to_thread.run_sync(
            lambda: self.service.send_link(
                tenant_id=tenant_id, user_id=user_id, purpose=LinkPurpose.INVITATION, by=by
            )
        )
        return await self._send(tenant_id, issued, by)

    async def request_password_reset(self, *, tenant_id: str, email: str) -> bool:
        """Email a password-reset link to the tenant's active user with this email, if there
        is one and the address has not had too many of them lately; True when one was sent.

        The caller must not tell anyone the result (it says whether the email is a user's).

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        user = await anyio.to_thread.run_sync(lambda: self.service.user_by_email(tenant_id, email))
        if user is None or not user.active or not await self._reset_allowed(tenant_id, user):
            return False
        issued = await anyio.to_thread.run_sync(
            lambda: self.service.send_link(
                tenant_id=tenant_id, user_id=user.user_id, purpose=LinkPurpose.PASSWORD_RESET
            )
        )
        return (await self._send(tenant_id, issued, "")).emailed

    async def redeem(self, *, token: str, purpose: LinkPurpose, password: str) -> access.User:
        """Accept an invitation or confirm a reset: the link's user gets ``password``.

        Raises:
            CommandRejected: an invalid, used or expired link (``token``), a bad password.
            StoreUnavailable: the store could not be reached.
        """
        return await anyio.to_thread.run_sync(
            lambda: self.service.redeem_link(token=token, purpose=purpose, password=password)
        )

    async def _send(self, tenant_id: str, issued: IssuedLink, by: str) -> Invited:
        inviter = ""
        if by:
            users = await anyio.to_thread.run_sync(lambda: self.service.users(tenant_id))
            inviter = next((u.email for u in users if u.user_id == by), "")
        message = render_link_email(
            issued,
            tenant_id=tenant_id,
            public_url=self.public_url,
            sender=self.sender,
            inviter=inviter,
        )
        emailed = True
        try:
            await self.mailer.send(message)
        except MailerError as error:
            emailed = False
            _log.warning(
                "link email not sent",
                purpose=issued.record.purpose.value,
                user_id=issued.user.user_id,
                error=str(error),
            )
        return Invited(user=issued.user, expires_at=issued.record.expires_at, emailed=emailed)

    async def _reset_allowed(self, tenant_id: str, user: access.User) -> bool:
        if self.limiter is None:
            return True
        key = "reset:" + hashlib.sha256(f"{tenant_id}\x00{user.user_id}".encode()).hexdigest()
        try:
            decision = await self.limiter.check(
                key=key,
                rate_per_s=1000 / RESET_INTERVAL_MS,
                burst=RESET_BURST,
                now_ms=self.service.now(),
                cost=1,
            )
        except LimiterUnavailable as error:
            # Fail open, like the login lockout: a reset link is useless to anyone but its owner.
            _log.warning("password reset limit unavailable", error=str(error))
            return True
        return decision.allowed
