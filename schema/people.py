"""People in GraphQL: the User type, who is signed in, and signing up and in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import strawberry

from domain.errors import DomainError
from domain.services import accounts
from domain.services.idempotency import Replay
from domain.services.views import UserView
from schema.common import (
    Ctx,
    Node,
    Role,
    UserError,
    arg,
    bare,
    described,
    fetchable,
    refused,
)
from schema.compiled.hints import prefetched_by
from schema.context import Context
from schema.idempotency import idempotent


@fetchable
@strawberry.type(description="A person who signs in.")
class User(Node):
    name: str = described("Full name.")
    email: str | None = strawberry.field(
        description="Shown only to the user themselves and to the superadmin."
    )
    roles: list[Role] = described("The roles granted (their scopes are not shown).")
    user_id: strawberry.Private[int]

    @strawberry.field(description=Node.ID_DESCRIPTION)  # type: ignore[misc]
    def id(self) -> strawberry.ID:  # type: ignore[override]
        # Worked out when asked: a page names people by the dozen, mostly by name alone.
        return User.global_id(self.user_id)

    @classmethod
    def of(cls, v: UserView) -> User:
        user = bare(cls)  # every field set here (tests/schema/test_bare_objects.py)
        user.user_id = v.id
        user.name = v.name
        user.email = v.email
        user.roles = list(v.roles)
        return user

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> User | None:
        # People are found through what they did, never enumerated: only yourself by id.
        if info.context.actor.user_id != pk:
            return None
        await info.context.loaders.see_users([pk])
        return person(info, pk)


def person(info: Ctx, user_id: int | None) -> User | None:
    """A person the request's loaders fetched with the object that named them."""
    found = info.context.loaders.user(user_id)
    return User.of(found) if found else None


def person_field(person_id: Callable[[Any], int | None], description: str) -> Any:
    """A field showing the person `person_id(object)` names, as the viewer may see them
    (the id is already masked by the object's view). Under a compiled plan the people a whole
    level names are fetched in one query before the field is resolved."""

    async def fetch(context: Context, objects: Sequence[Any]) -> None:
        await context.loaders.see_users(person_id(o) for o in objects)

    @prefetched_by(fetch)
    def resolve(self: Any, info: Ctx) -> User | None:
        return person(info, person_id(self))

    return strawberry.field(resolver=resolve, description=description)


@strawberry.input(description="A citizen's new account.")
class RegisterInput:
    name: str = described("Full name.")
    email: str = described("Signs in with it; unique.")
    password: str = described("At least 8 characters.")
    phone: str | None = strawberry.field(default=None, description="For SMS notices, optional.")


@strawberry.type(description="The result of signing up or in.")
class AuthPayload:
    token: str | None = described("Send as `Authorization: Bearer <token>`; null when refused.")
    user: User | None = described("Who signed in; null when refused.")
    errors: list[UserError] = described("Why not; empty on success.")


async def _auth_payload(signed: accounts.SignedIn) -> AuthPayload:
    found = await accounts.users_by_ids(
        await accounts.actor_for_user(signed.user.id), [signed.user.id]
    )
    return AuthPayload(token=signed.token, user=User.of(found[signed.user.id]), errors=[])


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="The signed-in user; null for the public.")
    async def me(self, info: Ctx) -> User | None:
        uid = info.context.actor.user_id
        return await User.load(info, uid) if uid is not None else None


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(
        description=(
            "Create a citizen account, then sign in with authLogin. The answer is the same "
            "whether or not the e-mail has an account already (its owner is told by e-mail): "
            "token and user are null, errors empty."
        )
    )
    async def auth_register(
        self, info: Ctx, input: Annotated[RegisterInput, arg("The new account.")]
    ) -> AuthPayload:
        ctx = info.context

        def register() -> Awaitable[list[tuple[int, int]]]:
            return accounts.register(
                ctx.now, input.name, input.email, input.password, input.phone, ctx.limits
            )

        try:
            # The answer is the same for a new and a taken address, so a retry under the same
            # key only has to make and mail nothing again (its outcome holds no ids).
            deliveries = await idempotent(info, register, lambda _: {})
        except DomainError as e:
            return AuthPayload(token=None, user=None, errors=[refused(info, e)])
        if not isinstance(deliveries, Replay):
            await ctx.dispatcher.deliver(deliveries)
        return AuthPayload(token=None, user=None, errors=[])

    @strawberry.mutation(description="Sign in; the token goes in `Authorization: Bearer`.")
    async def auth_login(
        self,
        info: Ctx,
        email: Annotated[str, arg("The account's e-mail.")],
        password: Annotated[str, arg("Its password.")],
    ) -> AuthPayload:
        ctx = info.context
        try:
            signed = await accounts.login(ctx.now, email, password, ctx.limits)
        except DomainError as e:
            return AuthPayload(token=None, user=None, errors=[refused(info, e)])
        return await _auth_payload(signed)
