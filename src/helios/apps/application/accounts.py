"""What a signed-in person does with accounts: their own tokens, and the users of their tenant.

The rules are the access decider's (``helios.domain.access``); ``AccessService`` does load →
decide → append. These use cases add what is about the caller: which tokens are theirs, the
role they may give, and dropping the cached directory once this process changed it. Every
change is recorded with the caller as ``by``, and reaches only users of the caller's tenant
(another tenant's user ids are ``NoSuchUser``).
"""

from __future__ import annotations

import attrs
import structlog

from helios.apps.application.access import (
    AccessService,
    Caller,
    IssuedToken,
    TokenAuthenticator,
    parse_link_token,
)
from helios.apps.application.people import Invited, PeopleMail
from helios.domain import access
from helios.domain.access import LinkPurpose, Role, TokenKind
from helios.domain.errors import CommandRejected
from helios.ports.event_store import StoreUnavailable

DAY_MS = 24 * 3600 * 1000
MAX_TOKEN_DAYS = 3650
_log = structlog.get_logger("helios.accounts")


class NoSuchToken(LookupError):
    """The caller (or the user named) has no token with this id."""


class NoSuchUser(LookupError):
    """The caller's tenant has no user with this id."""


@attrs.frozen
class Accounts:
    """The account use cases over a tenant's access directory and the API's token cache."""

    service: AccessService
    authenticator: TokenAuthenticator
    mail: PeopleMail | None = None
    """Invitations and resets by email (without it, ``invite`` cannot be used)."""

    def tokens(self, caller: Caller) -> tuple[access.Token, ...]:
        """The caller's personal tokens, revoked and expired ones included, oldest first.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self.service.tokens(caller.tenant_id, caller.user.user_id)

    def issue_token(self, caller: Caller, *, name: str, expires_in_days: int | None) -> IssuedToken:
        """A new personal token for the caller, valid ``expires_in_days`` (None: for good).

        Raises:
            CommandRejected: an expiry outside 1..``MAX_TOKEN_DAYS`` days, or a bad name.
            StoreUnavailable: the store cannot be reached.
        """
        days = expires_in_days
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise CommandRejected(
                "invalid expiry", (("expires_in_days", f"must be 1..{MAX_TOKEN_DAYS}"),)
            )
        issued = self.service.issue_token(
            tenant_id=caller.tenant_id,
            user_id=caller.user.user_id,
            name=name,
            expires_in_ms=days * DAY_MS if days else None,
        )
        self.authenticator.forget(caller.tenant_id)
        return issued

    def revoke_own_token(self, caller: Caller, token_id: str) -> None:
        """Revoke one of the caller's personal tokens.

        Raises:
            NoSuchToken: no personal token of the caller has this id.
            StoreUnavailable: the store cannot be reached.
        """
        if not any(
            t.token_id == token_id and t.kind is TokenKind.PERSONAL for t in self.tokens(caller)
        ):
            raise NoSuchToken(token_id)
        self._revoke(caller, token_id)

    def log_out(self, caller: Caller) -> None:
        """Revoke the token the caller presented (a session or a personal token).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        self._revoke(caller, caller.token.token_id)

    def users(self, caller: Caller) -> tuple[access.User, ...]:
        """The users of the caller's tenant.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self.service.users(caller.tenant_id)

    def create_user(
        self, caller: Caller, *, email: str, role: Role, password: str | None
    ) -> access.User:
        """A new user of the caller's tenant, created on the caller's behalf.

        Raises:
            RoleNotGranted: ``role`` is above the caller's (checked before a password is
                hashed; the decider checks it again against the recorded role).
            CommandRejected: a malformed or taken email, a bad password.
            StoreUnavailable: the store cannot be reached.
        """
        access.check_grant(caller.role, role)
        user = self.service.create_user(
            tenant_id=caller.tenant_id,
            email=email,
            role=role,
            password=password,
            by=caller.user.user_id,
        )
        self.authenticator.forget(caller.tenant_id)
        return user

    async def invite(self, caller: Caller, *, email: str, role: Role) -> Invited:
        """Invite someone to the caller's tenant by email, with a role the caller may give.

        Raises:
            RoleNotGranted: the caller may not give ``role``.
            CommandRejected: a malformed or taken email.
            StoreUnavailable: the store cannot be reached.
        """
        access.check_grant(caller.role, role)
        invited = await self._mail().invite(
            tenant_id=caller.tenant_id, email=email, role=role, by=caller.user.user_id
        )
        self.authenticator.forget(caller.tenant_id)
        return invited

    async def resend_invitation(self, caller: Caller, user_id: str) -> Invited:
        """A new invitation email for a user of the caller's tenant who has not accepted one.

        Raises:
            NoSuchUser: no such user in the caller's tenant.
            CommandRejected: the user is deactivated or has accepted already.
            StoreUnavailable: the store cannot be reached.
        """
        self.user(caller, user_id)
        return await self._mail().resend_invitation(
            tenant_id=caller.tenant_id, user_id=user_id, by=caller.user.user_id
        )

    async def redeem_link(self, *, token: str, purpose: LinkPurpose, password: str) -> access.User:
        """Accept an invitation or confirm a password reset with an emailed link's token (no
        caller: the token is the credential).

        Raises:
            CommandRejected: an invalid, used or expired link (``token``), a bad password.
            StoreUnavailable: the store cannot be reached.
        """
        user = await self._mail().redeem(token=token, purpose=purpose, password=password)
        parsed = parse_link_token(token)
        if parsed is not None:
            self.authenticator.forget(parsed[1])
        return user

    async def request_password_reset(self, *, tenant_id: str, email: str) -> None:
        """Email a reset link if ``email`` is an active user's of the tenant; says nothing
        either way, and logs (rather than raises) a store that cannot be reached, since
        nobody waits for the answer."""
        try:
            await self._mail().request_password_reset(tenant_id=tenant_id, email=email)
        except StoreUnavailable as error:
            _log.warning("password reset not sent", error=str(error))

    def user(self, caller: Caller, user_id: str) -> access.User:
        """A user of the caller's tenant.

        Raises:
            NoSuchUser: no such user in the caller's tenant.
            StoreUnavailable: the store cannot be reached.
        """
        found = next((u for u in self.users(caller) if u.user_id == user_id), None)
        if found is None:
            raise NoSuchUser(user_id)
        return found

    def change_role(self, caller: Caller, user_id: str, role: Role) -> access.User:
        """Give a user of the caller's tenant another role.

        Raises:
            NoSuchUser: no such user in the caller's tenant.
            RoleNotGranted: the caller may not take the user's role or give ``role``.
            CommandRejected: the user is the last active owner.
            StoreUnavailable: the store cannot be reached.
        """
        self.user(caller, user_id)
        self.service.change_role(
            tenant_id=caller.tenant_id, user_id=user_id, role=role, by=caller.user.user_id
        )
        self.authenticator.forget(caller.tenant_id)
        return self.user(caller, user_id)

    def set_active(self, caller: Caller, user_id: str, *, active: bool) -> access.User:
        """Deactivate (every token revoked, no login) or reactivate a user of the tenant.

        Raises:
            NoSuchUser: no such user in the caller's tenant.
            RoleNotGranted: the caller may not act on a user of this role.
            CommandRejected: the caller themselves, or the last active owner (deactivation).
            StoreUnavailable: the store cannot be reached.
        """
        self.user(caller, user_id)
        self.service.set_active(
            tenant_id=caller.tenant_id, user_id=user_id, active=active, by=caller.user.user_id
        )
        self.authenticator.forget(caller.tenant_id)
        return self.user(caller, user_id)

    def credentials(self, caller: Caller, user_id: str) -> tuple[access.Token, ...]:
        """A user's sessions and personal tokens (revoked and expired included), oldest first.

        Raises:
            NoSuchUser: no such user in the caller's tenant.
            StoreUnavailable: the store cannot be reached.
        """
        self.user(caller, user_id)
        return self.service.credentials(caller.tenant_id, user_id)

    def revoke_user_token(self, caller: Caller, user_id: str, token_id: str) -> None:
        """Revoke one session or personal token of a user of the caller's tenant.

        Raises:
            NoSuchUser: no such user in the caller's tenant.
            NoSuchToken: the user has no token with this id.
            StoreUnavailable: the store cannot be reached.
        """
        if token_id not in {t.token_id for t in self.credentials(caller, user_id)}:
            raise NoSuchToken(token_id)
        self._revoke(caller, token_id)

    def _mail(self) -> PeopleMail:
        if self.mail is None:
            raise RuntimeError("Accounts was built without a mailer: it cannot send invitations")
        return self.mail

    def _revoke(self, caller: Caller, token_id: str) -> None:
        self.service.revoke_token(
            tenant_id=caller.tenant_id, token_id=token_id, by=caller.user.user_id
        )
        self.authenticator.forget(caller.tenant_id)
