"""Accounts: register, sign in, create staff users, and turn a token into an Actor."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.bounds import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    PHONE_MAX_LENGTH,
    text_problem,
)
from core.settings import get_settings
from domain.actor import PUBLIC, Actor
from domain.auth import hash_password, issue_token, read_claims, verify_password
from domain.errors import DomainError, ErrorCode, invalid
from domain.messages import text
from domain.services.caching import Cache
from domain.services.common import optional_text, require_aware, required_text
from domain.services.ratelimits import RateLimits
from domain.services.reading import SharedRows, shared_rows
from domain.services.views import (
    UserView,
    user_view,
)
from models import (
    Agency,
    Notification,
    Region,
    RoleGrant,
    User,
)
from models.enums import Channel, DeliveryStatus, Role

_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]{2,}$")
# The kind of the e-mail that tells an address's owner someone tried to register with it.
REGISTRATION_ATTEMPT = "account.registration_attempt"


@dataclass(frozen=True)
class Grant:
    """A role to give, scoped by region code (coordinator) or agency id (officer, head)."""

    role: Role
    region_id: int | None = None
    agency_id: int | None = None


@dataclass
class SignedIn:
    user: User
    token: str


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > EMAIL_MAX_LENGTH or not _EMAIL.match(value):
        raise invalid("email", "not a valid e-mail address")
    return value


async def create_user(
    now: datetime,
    *,
    name: str,
    email: str,
    password: str,
    phone: str | None = None,
    grants: list[Grant] | None = None,
) -> User:
    """A new user with the given role grants (CITIZEN when none); e-mail is unique."""
    require_aware(now)
    clean_name = required_text(name, "name", max_length=NAME_MAX_LENGTH)
    clean_email = normalize_email(email)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise invalid("password", f"must be at least {PASSWORD_MIN_LENGTH} characters")
    problem = text_problem(password, PASSWORD_MAX_LENGTH)
    if problem is not None:
        raise invalid("password", problem)
    clean_phone = optional_text(phone, "phone", max_length=PHONE_MAX_LENGTH)
    for grant in grants or []:
        _check_grant(grant)
    try:
        async with in_transaction():
            user = await User.create(
                name=clean_name,
                email=clean_email,
                phone=clean_phone,
                password_hash=hash_password(password),
                created_at=now,
            )
            for grant in grants or [Grant(Role.CITIZEN)]:
                await RoleGrant.create(
                    user_id=user.id,
                    role=grant.role,
                    region_id=grant.region_id,
                    agency_id=grant.agency_id,
                )
    except IntegrityError:
        raise DomainError(
            ErrorCode.EMAIL_TAKEN, "an account with this e-mail exists", ["email"]
        ) from None
    return user


def _check_grant(grant: Grant) -> None:
    if grant.role is Role.COORDINATOR and grant.region_id is None:
        raise invalid("roles", "a coordinator needs a region")
    if grant.role in (Role.OFFICER, Role.AGENCY_HEAD) and grant.agency_id is None:
        raise invalid("roles", "an officer or agency head needs an agency")


async def register(
    now: datetime,
    name: str,
    email: str,
    password: str,
    phone: str | None,
    limits: RateLimits | None = None,
) -> list[tuple[int, int]]:
    """A citizen creates an account, then signs in with `login`. The answer is the same whether
    or not the e-mail has an account: when it has one, nothing is created and, with e-mail on,
    its owner is told by mail. Returns the (id, round) of deliveries to enqueue after commit."""
    require_aware(now)
    if limits is not None:
        await limits.register(email, now)
    try:
        await create_user(now, name=name, email=email, password=password, phone=phone)
    except DomainError as error:
        if error.code is not ErrorCode.EMAIL_TAKEN:
            raise
        return await _tell_owner(now, normalize_email(email))
    return []


async def _tell_owner(now: datetime, email: str) -> list[tuple[int, int]]:
    """Mail the owner of `email` that someone tried to register with it (with e-mail on): a
    delivery of its own, kept and retried like any other (docs/adr/0007)."""
    owner = await User.get_or_none(email=email)
    if owner is None or not get_settings().email_enabled:
        return []
    row = await Notification.create(
        user_id=owner.id,
        channel=Channel.EMAIL,
        kind=REGISTRATION_ATTEMPT,
        message=text(owner.locale, "account.taken"),
        created_at=now,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
    )
    return [(row.id, row.round)]


async def login(
    now: datetime, email: str, password: str, limits: RateLimits | None = None
) -> SignedIn:
    """Sign in by e-mail and password; the same refusal whether the e-mail exists or not.
    With `limits`, RATE_LIMITED beyond the sign-in windows or while the account backs off
    after failures."""
    require_aware(now)
    if limits is not None:
        await limits.sign_in(email, now)
    # What cannot be an address is said so before any query (the column would refuse it).
    user = await User.get_or_none(email=normalize_email(email), is_active=True)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        if limits is not None:
            await limits.sign_in_failed(email, now)
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong e-mail or password")
    if limits is not None:
        await limits.sign_in_succeeded(email)
    return SignedIn(user, _token(user, now))


def _token(user: User, now: datetime) -> str:
    s = get_settings()
    return issue_token(user.id, s.secret_key, now, s.token_ttl_seconds)


@dataclass(frozen=True)
class Person:
    """A user as the services need them: who they are, how to reach them, what they may do
    (`actor` is PUBLIC for a disabled account)."""

    id: int
    name: str
    email: str
    locale: str
    active: bool
    roles: frozenset[Role]
    actor: Actor


PEOPLE: Cache[int, Person] = Cache("people", {"app_user", "role_grant"}, keyed=int)


async def people(user_ids: Iterable[int]) -> dict[int, Person]:
    """The users among `user_ids` that exist, active or not, with their roles (cached: two
    queries for those not cached)."""
    return await PEOPLE.get_many(user_ids, _fetch_people)


async def _fetch_people(user_ids: list[int]) -> dict[int, Person]:
    users = await User.filter(id__in=user_ids)
    grants: dict[int, list[RoleGrant]] = {u.id: [] for u in users}
    for grant in await RoleGrant.filter(user_id__in=list(grants)):
        grants[grant.user_id].append(grant)
    return {u.id: _person(u, grants[u.id]) for u in users}


def _person(user: User, grants: Sequence[RoleGrant]) -> Person:
    actor = _actor(user, grants) if user.is_active else PUBLIC
    return Person(
        id=user.id,
        name=user.name,
        email=user.email,
        locale=user.locale,
        active=user.is_active,
        roles=frozenset(g.role for g in grants),
        actor=actor,
    )


async def actor_for_user(user_id: int) -> Actor:
    """The Actor of an active user with all their grants; PUBLIC if there is no such user."""
    return (await actors_for_users([user_id])).get(user_id, PUBLIC)


async def actors_for_users(user_ids: Sequence[int]) -> dict[int, Actor]:
    """The Actors of the active users among `user_ids`, with all their grants."""
    return {uid: p.actor for uid, p in (await people(user_ids)).items() if p.active}


def _actor(user: User, grants: Sequence[RoleGrant]) -> Actor:
    def scoped(role: Role, attr: str) -> frozenset[int]:
        return frozenset(
            getattr(g, attr) for g in grants if g.role is role and getattr(g, attr) is not None
        )

    return Actor(
        user_id=user.id,
        name=user.name,
        roles=frozenset(g.role for g in grants),
        coordinator_regions=scoped(Role.COORDINATOR, "region_id"),
        officer_agencies=scoped(Role.OFFICER, "agency_id"),
        head_agencies=scoped(Role.AGENCY_HEAD, "agency_id"),
    )


async def actor_for_token(token: str | None, now: datetime, audience: str | None = None) -> Actor:
    """The Actor a bearer token (or, with `audience`, a token of that audience) stands for;
    PUBLIC for none, a bad or an expired token."""
    session = await session_for_token(token, now, audience)
    return session.actor if session else PUBLIC


@dataclass(frozen=True)
class Session:
    """A signed-in actor and the instant their token stops being valid."""

    actor: Actor
    expires_at: datetime


async def session_for_token(
    token: str | None, now: datetime, audience: str | None = None
) -> Session | None:
    """The session a bearer token opens; None for none, a bad or an expired token, or a user
    who is gone or disabled."""
    if not token:
        return None
    claims = read_claims(token, get_settings().secret_key, now, audience)
    if claims is None:
        return None
    actor = await actor_for_user(claims.user_id)
    return Session(actor, claims.expires_at) if actor.authenticated else None


# The console's sign-in cookie carries a token of its own audience: it opens the console page
# and is refused as an API bearer token, so the cookie never authorises an API call.
CONSOLE_AUDIENCE = "lapor-console"


def console_token(user_id: int, now: datetime, ttl_seconds: int) -> str:
    """A token that proves, to the console page only, who signed in."""
    return issue_token(user_id, get_settings().secret_key, now, ttl_seconds, CONSOLE_AUDIENCE)


async def resolve_grant(role: Role, region_code: str | None, agency_code: str | None) -> Grant:
    """A Grant from codes as an admin types them (`lapor create-user`)."""
    region_id = agency_id = None
    if region_code:
        region = await Region.get_or_none(code=region_code)
        if region is None:
            raise invalid("region", f"no region with code {region_code}")
        region_id = region.id
    if agency_code:
        query = Agency.filter(code=agency_code)
        if region_id is not None:
            query = query.filter(region_id=region_id)
        agencies = await query
        if len(agencies) != 1:
            raise invalid("agency", f"agency code {agency_code} is unknown or ambiguous")
        agency_id = agencies[0].id
        if role is not Role.COORDINATOR:
            region_id = None
    return Grant(role, region_id, agency_id)


async def users_by_ids(
    viewer: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, UserView]:
    """People as `viewer` sees them, leaving out those it may not know by name (cached; two
    queries for those not cached, or none with `shared` rows)."""
    wanted = sorted(set(ids))
    found = await shared_rows(shared, ("users", *wanted), lambda: people(wanted))
    views = {p.id: user_view(p, viewer) for p in found.values()}
    return {uid: view for uid, view in views.items() if view is not None}
