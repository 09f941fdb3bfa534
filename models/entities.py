"""The tables of Lapor. Every list the API serves has an index here."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from core.bounds import (
    ADDRESS_MAX_LENGTH,
    CODE_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PHONE_MAX_LENGTH,
)
from models.enums import (
    AssignmentStatus,
    AttachmentSource,
    Channel,
    DeliveryStatus,
    RegionLevel,
    ReportKind,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
    Role,
)


class Region(Model):
    """A province, regency (kabupaten) or city (kota), with its time zone."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=CODE_MAX_LENGTH, unique=True)
    name = fields.CharField(max_length=200)
    level = fields.CharEnumField(RegionLevel, max_length=16)
    timezone = fields.CharField(max_length=64)
    parent: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None

    class Meta:
        table = "region"


class Agency(Model):
    """A body that acts on reports, agencies form a tree (a Dinas and its Puskesmas)."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=CODE_MAX_LENGTH)
    name = fields.CharField(max_length=200)
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="agencies", null=True, on_delete=fields.RESTRICT
    )
    region_id: int | None
    parent: fields.ForeignKeyNullableRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None
    webhook_url = fields.CharField(max_length=500, null=True)
    webhook_secret = fields.CharField(max_length=200, null=True)
    email = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "agency"
        unique_together = (("region", "code"),)


class Category(Model):
    """A subject of reports (health, roads, ...), with the tier it usually needs."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=CODE_MAX_LENGTH, unique=True)
    name = fields.CharField(max_length=200)
    default_tier = fields.CharEnumField(ResolutionTier, max_length=16, null=True)

    class Meta:
        table = "category"


class RoutingRule(Model):
    """Category x region -> agency: who the coordinator is advised to forward to."""

    id = fields.BigIntField(primary_key=True)
    category: fields.ForeignKeyRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="routing_rules", on_delete=fields.CASCADE
    )
    category_id: int
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="routing_rules", on_delete=fields.CASCADE
    )
    region_id: int
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="routing_rules", on_delete=fields.CASCADE
    )
    agency_id: int
    priority = fields.IntField(default=0)

    class Meta:
        table = "routing_rule"
        unique_together = (("category", "region", "agency"),)


class User(Model):
    """A person who signs in, what they may do comes from their role grants."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=NAME_MAX_LENGTH)
    email = fields.CharField(max_length=EMAIL_MAX_LENGTH, unique=True)
    phone = fields.CharField(max_length=PHONE_MAX_LENGTH, null=True)
    password_hash = fields.CharField(max_length=200)
    is_active = fields.BooleanField(default=True)
    # The language of e-mails: id (Indonesian) or en, falling back to English per message.
    locale = fields.CharField(max_length=8, default="id")
    created_at = fields.DatetimeField()

    class Meta:
        table = "app_user"


class RoleGrant(Model):
    """One role of a user, scoped to a region (coordinator) or an agency (officer, head)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="grants", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(Role, max_length=16)
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="grants", null=True, on_delete=fields.CASCADE
    )
    region_id: int | None
    agency: fields.ForeignKeyNullableRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="grants", null=True, on_delete=fields.CASCADE
    )
    agency_id: int | None

    class Meta:
        table = "role_grant"
        unique_together = (("user", "role", "region", "agency"),)
        indexes = (Index(fields=("agency_id", "role")), Index(fields=("region_id", "role")))


class Report(Model):
    """What a citizen sends, its status and current deadline are kept by the domain only."""

    id = fields.BigIntField(primary_key=True)
    tracking_code = fields.CharField(max_length=20, unique=True)
    kind = fields.CharEnumField(ReportKind, max_length=24)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    anonymous = fields.BooleanField(default=False)
    confidential = fields.BooleanField(default=False)
    ombudsman_consent = fields.BooleanField(default=False)
    status = fields.CharEnumField(ReportStatus, max_length=16)
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="reports", on_delete=fields.RESTRICT
    )
    region_id: int
    category: fields.ForeignKeyNullableRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="reports", null=True, on_delete=fields.RESTRICT
    )
    category_id: int | None
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reports", on_delete=fields.RESTRICT
    )
    reporter_id: int
    duplicate_of: fields.ForeignKeyNullableRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="duplicates", null=True, on_delete=fields.SET_NULL
    )
    duplicate_of_id: int | None
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    address = fields.CharField(max_length=ADDRESS_MAX_LENGTH, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    due_at = fields.DatetimeField(null=True)
    # When the deadline sweep must next look at this row (None: nothing pending).
    sweep_at = fields.DatetimeField(null=True)
    responded_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    reopen_count = fields.IntField(default=0)
    transfer_count = fields.IntField(default=0)
    support_count = fields.IntField(default=0)

    class Meta:
        table = "report"
        indexes = (
            Index(fields=("region_id", "status", "id")),
            Index(fields=("status", "due_at")),
            Index(fields=("reporter_id", "id")),
            Index(fields=("updated_at", "id")),
            Index(fields=("sweep_at", "id")),
        )


class Assignment(Model):
    """One report sent to one agency (disposisi), a forward makes a child assignment."""

    id = fields.BigIntField(primary_key=True)
    report: fields.ForeignKeyRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="assignments", on_delete=fields.CASCADE
    )
    report_id: int
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="assignments", on_delete=fields.RESTRICT
    )
    agency_id: int
    parent: fields.ForeignKeyNullableRelation[Assignment] = fields.ForeignKeyField(
        "models.Assignment", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    parent_id: int | None
    status = fields.CharEnumField(AssignmentStatus, max_length=16)
    tier = fields.CharEnumField(ResolutionTier, max_length=16, null=True)
    note = fields.TextField(null=True)
    assigned_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    first_response_at = fields.DatetimeField(null=True)
    responded_at = fields.DatetimeField(null=True)
    first_response_due_at = fields.DatetimeField(null=True)
    resolution_due_at = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    # When the deadline sweep must next look at this row (None: nothing pending).
    sweep_at = fields.DatetimeField(null=True)
    escalation_level = fields.IntField(default=0)
    return_reason = fields.TextField(null=True)
    suggested_agency: fields.ForeignKeyNullableRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="suggested_in", null=True, on_delete=fields.SET_NULL
    )
    suggested_agency_id: int | None
    updated_at = fields.DatetimeField()

    class Meta:
        table = "assignment"
        indexes = (
            Index(fields=("agency_id", "status", "id")),
            Index(fields=("agency_id", "id")),
            Index(fields=("agency_id", "updated_at")),
            Index(fields=("status", "due_at")),
            Index(fields=("report_id", "id")),
            Index(fields=("sweep_at", "id")),
        )


class FollowUp(Model):
    """An agencys written answer on an assignment, interim or final (tindak lanjut)."""

    id = fields.BigIntField(primary_key=True)
    assignment: fields.ForeignKeyRelation[Assignment] = fields.ForeignKeyField(
        "models.Assignment", related_name="follow_ups", on_delete=fields.CASCADE
    )
    assignment_id: int
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="follow_ups", null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    message = fields.TextField()
    final = fields.BooleanField(default=False)
    resolution = fields.CharEnumField(ResolutionCode, max_length=24, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "follow_up"
        indexes = (Index(fields=("assignment_id", "id")),)


class Attachment(Model):
    """A photo or document on a report, as stored after cleaning (no metadata): the bytes live
    in the file store (models/storage.py) under their SHA-256, `blob_key`; the row says whose
    they are and who may see them (domain/policy.py, `attachment_access`)."""

    id = fields.BigIntField(primary_key=True)
    report: fields.ForeignKeyRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="attachments", on_delete=fields.CASCADE
    )
    report_id: int
    # Evidence of an agency's answer; null for the reporter's own files.
    follow_up: fields.ForeignKeyNullableRelation[FollowUp] = fields.ForeignKeyField(
        "models.FollowUp", related_name="attachments", null=True, on_delete=fields.CASCADE
    )
    follow_up_id: int | None
    uploader: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="attachments", null=True, on_delete=fields.SET_NULL
    )
    uploader_id: int | None
    source = fields.CharEnumField(AttachmentSource, max_length=16)
    blob_key = fields.CharField(max_length=64)
    content_type = fields.CharField(max_length=64)
    byte_size = fields.IntField()
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    # The thumbnail's key, once the worker made it (images only).
    thumbnail_key = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    # Hidden by the desk (a face, a plate, a document shown by mistake): only the desks and the
    # uploader still see it.
    hidden_at = fields.DatetimeField(null=True)
    hidden_reason = fields.TextField(null=True)

    class Meta:
        table = "attachment"
        indexes = (
            Index(fields=("report_id", "id")),
            Index(fields=("follow_up_id",)),
            Index(fields=("blob_key",)),
            Index(fields=("thumbnail_key",)),
        )


class Support(Model):
    """A signed-in users support (+1) of a public report, also makes them a follower."""

    id = fields.BigIntField(primary_key=True)
    report: fields.ForeignKeyRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="supports", on_delete=fields.CASCADE
    )
    report_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="supports", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField()

    class Meta:
        table = "support"
        unique_together = (("report", "user"),)


class Rating(Model):
    """The reporters rating (1-5) of how a report was handled, one per report."""

    id = fields.BigIntField(primary_key=True)
    report: fields.OneToOneRelation[Report] = fields.OneToOneField(
        "models.Report", related_name="rating", on_delete=fields.CASCADE
    )
    report_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ratings", on_delete=fields.CASCADE
    )
    user_id: int
    score = fields.SmallIntField()
    comment = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "rating"


class ReportEvent(Model):
    """An append-only line of a reports timeline, every change writes one."""

    id = fields.BigIntField(primary_key=True)
    report: fields.ForeignKeyRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="events", on_delete=fields.CASCADE
    )
    report_id: int
    assignment: fields.ForeignKeyNullableRelation[Assignment] = fields.ForeignKeyField(
        "models.Assignment", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    assignment_id: int | None
    kind = fields.CharField(max_length=48)
    message = fields.TextField(null=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    # Who may read this line beyond those who may read the report: "public" or "internal".
    visibility = fields.CharField(max_length=16, default="public")
    data: dict[str, Any] = fields.JSONField(default=dict)
    at = fields.DatetimeField()

    class Meta:
        table = "report_event"
        indexes = (Index(fields=("report_id", "id")),)


class OutboxMessage(Model):
    """A side effect to run after commit (fan-out, publish), drained by the relay job."""

    id = fields.BigIntField(primary_key=True)
    topic = fields.CharField(max_length=48)
    event: fields.ForeignKeyNullableRelation[ReportEvent] = fields.ForeignKeyField(
        "models.ReportEvent", related_name="outbox", null=True, on_delete=fields.CASCADE
    )
    event_id: int | None
    payload: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    dispatched_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = (Index(fields=("dispatched_at", "id")),)


class Notification(Model):
    """One notification of one event to one recipient (a user, or an agency for webhooks) over
    one channel, with its delivery bookkeeping. In-app rows are delivered when stored."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    user_id: int | None
    agency: fields.ForeignKeyNullableRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    agency_id: int | None
    event: fields.ForeignKeyNullableRelation[ReportEvent] = fields.ForeignKeyField(
        "models.ReportEvent", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    event_id: int | None
    report: fields.ForeignKeyNullableRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    report_id: int | None
    channel = fields.CharEnumField(Channel, max_length=16, default=Channel.IN_APP)
    kind = fields.CharField(max_length=48)
    message = fields.TextField()
    read_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.SENT)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    # Bumped when an admin retries a dead delivery: a fresh job id for the fresh round.
    round = fields.IntField(default=0)

    class Meta:
        table = "notification"
        unique_together = (("event", "user", "channel"), ("event", "agency", "channel"))
        indexes = (
            Index(fields=("user_id", "id")),
            Index(fields=("user_id", "read_at", "id")),
            Index(fields=("status", "next_attempt_at")),
        )


class SweepMark(Model):
    """That the deadline sweep took one step (reminder, breach, ...) on one deadline of one row,
    unique so that the step happens once however many sweeps run."""

    id = fields.BigIntField(primary_key=True)
    target = fields.CharField(max_length=32)
    stage = fields.CharField(max_length=24)
    level = fields.CharField(max_length=16)
    due_at = fields.DatetimeField()
    report: fields.ForeignKeyRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="sweep_marks", on_delete=fields.CASCADE
    )
    report_id: int
    acted = fields.BooleanField(default=True)
    at = fields.DatetimeField()

    class Meta:
        table = "sweep_mark"
        unique_together = (("target", "stage", "level", "due_at"),)


class Holiday(Model):
    """A non-working day added as data: collective leave (region null) or a regional holiday."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    name = fields.CharField(max_length=200)
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="holidays", null=True, on_delete=fields.CASCADE
    )
    region_id: int | None

    class Meta:
        table = "holiday"
        unique_together = (("day", "region"),)
        indexes = (Index(fields=("day",)),)


class IdempotencyKey(Model):
    """A change made under a client's idempotency key: what was asked (a keyed hash of the
    mutation and its arguments) and what it produced, so that a retry is answered with it
    (docs/adr/0025). Written in the transaction of the change; forgotten after it expires."""

    id = fields.BigIntField(primary_key=True)
    # Whose key: the signed-in user's id, 0 for signed-out requests (authRegister).
    scope = fields.BigIntField()
    key = fields.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    operation = fields.CharField(max_length=64)
    fingerprint = fields.CharField(max_length=64)
    # The ids of what the change produced ({"report": 7, "assignment": 9}); null only inside
    # the change's own transaction.
    outcome: dict[str, int] | None = fields.JSONField(null=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_key"
        unique_together = (("scope", "key"),)
        indexes = (Index(fields=("expires_at",)),)
