"""What a signed-in person does with accounts: their own tokens, and the users of their tenant.

The rules are the access decider's (``helios.domain.access``); ``AccessService`` does load →
decide → append. These use cases add what is about the caller: which tokens are theirs, the
role they may give, and dropping the cached directory once this process changed it.
"""

from __future__ import annotations

import attrs

from helios.apps.application.access import AccessService, Caller, IssuedToken, TokenAuthenticator
from helios.domain import access
from helios.domain.access import Role, TokenKind
from helios.domain.errors import CommandRejected

DAY_MS = 24 * 3600 * 1000
MAX_TOKEN_DAYS = 3650


class NoSuchToken(LookupError):
    """The caller has no personal token with this id."""


@attrs.frozen
class Accounts:
    """The account use cases over a tenant's access directory and the API's token cache."""

    service: AccessService
    authenticator: TokenAuthenticator

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

    def _revoke(self, caller: Caller, token_id: str) -> None:
        self.service.revoke_token(
            tenant_id=caller.tenant_id, token_id=token_id, by=caller.user.user_id
        )
        self.authenticator.forget(caller.tenant_id)
