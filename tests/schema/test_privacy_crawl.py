"""The privacy crawl (issue 12): for each demo role and the public, everything the service can
say is read, and marker strings (the reporter's name, e-mail, phone, address and coordinates;
the title and body of each report; the staff's names and e-mails; each file on a report) must
appear exactly where the policy allows (tests/schema/crawl.py has the machinery).

The population is the audit's: four reports by a new citizen (named public, anonymous public,
named confidential, anonymous confidential), forwarded to the wrong agency (DPUPR), returned,
re-assigned to DINKES, accepted, answered in the interim, forwarded to the Puskesmas, which
answers; a neighbour supports the public ones; the anonymous confidential one is handed over
to the Ombudsman. Each report comes with the reporter's phone photo (GPS and camera in its
EXIF), the first with a PDF that names its author too; the desk hides the photo of the
anonymous public one; the Puskesmas answers the first and the third with an evidence photo.
What is read:

- every root query field, with every field beneath it (generated from the schema), `node(id:)`
  of every object in the database;
- every subscription, open while the second half of the story happens;
- the in-app notifications (a query and a subscription), every e-mail (a real SMTP server) and
  every webhook (real receivers) the story caused, delivered by the workers' own code;
- Open311's documents, and every log line written meanwhile (which may name no one);
- every signed link to a file (original or thumbnail) any of these gave any viewer, fetched: it
  must name a file the viewer may see, and serve it with no metadata left.

A role x path matrix of what was read is printed, and kept in var/test-artifacts.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from arq.connections import RedisSettings, create_pool
from graphql import get_named_type

from core.logs import JsonFormatter
from core.settings import Settings, get_settings
from domain.actor import PUBLIC
from domain.policy import STAFF_ROLES, Action, AttachmentFacts, allowed_on_report
from domain.services import transparency
from domain.services.accounts import actor_for_user
from domain.services.attachments import make_thumbnail, missing_thumbnails
from domain.services.common import report_facts
from domain.services.deliveries import RetryPolicy, attempt_delivery
from lapor.demo import DEMO_ACCOUNTS
from models import (
    Agency,
    Assignment,
    Attachment,
    Category,
    FollowUp,
    Notification,
    Region,
    Report,
    ReportEvent,
    User,
)
from models.enums import Channel, DeliveryStatus
from schema.common import Node
from schema.compiled.executor import Mismatch, check_against_generic
from schema.ids import to_global_id
from tests.api.live_server import Live, live_settings, serving
from tests.app_fixtures import DEMO_VIEWERS, GQL, JEMBER, PASSWORD, agency_gid, pk, region_gid
from tests.factories import (
    ACCEPT,
    ASSIGN,
    ERRORS,
    FOLLOW_UP,
    FORWARD,
    RETURN,
    accepted,
    actor_for,
    miss_deadline,
    ok,
    submit_files,
    uploaded,
    verify,
)
from tests.files import authored_pdf, leaked, phone_jpeg
from tests.live_client import LiveClient
from tests.schema.crawl import (
    SCHEMA,
    Crawl,
    Judge,
    Marker,
    Viewer,
    field_document,
    quoted,
    selection,
)
from tests.schema.privacy import ESCALATE, INTERIM, SUPPORT
from tests.workers.receivers import SmtpServer, WebhookReceiver
from workers.relay import OutboxRelay
from workers.transports import Transports

ROOT = Path(__file__).resolve().parents[2]
TAG = uuid.uuid4().hex[:6]
# The four reports of the audit: (anonymous, confidential).
FLAGS = {"R1": (False, False), "R2": (True, False), "R3": (False, True), "R4": (True, True)}
AGENCIES = ("DINKES", "DPUPR", "PKM-SUMBERSARI", "DISDIK")
# The rules for this population, written out by hand from the issue (not from domain/policy.py):
# whether each viewer reads each report's content, and whether it may know who reported it.
# The judge decides from the policy; this table checks the policy says what the issue says.
BOTH, READS, NEITHER = (True, True), (True, False), (False, False)
PUBLICLY = {"R1": BOTH, "R2": READS, "R3": NEITHER, "R4": NEITHER}
DESK = {"R1": BOTH, "R2": READS, "R3": BOTH, "R4": READS}  # an agency involved now
AUDIT = {
    "public": PUBLICLY,
    "reporter": dict.fromkeys(FLAGS, BOTH),
    "citizen": PUBLICLY,
    "coordinator": dict.fromkeys(FLAGS, BOTH),
    "officer": DESK,
    "head": DESK,
    "dpupr": PUBLICLY,  # it returned all four: no longer involved
    "puskesmas": DESK,
    "jayapura": PUBLICLY,
    "admin": PUBLICLY,
    "ombudsman": {**PUBLICLY, "R4": READS},  # R4 was handed over
}
# The models behind each type `node(id:)` fetches (a new Node type must be added here).
NODE_TABLES: dict[str, Callable[[], Any]] = {
    "Report": Report.all,
    "Attachment": Attachment.all,
    "Assignment": Assignment.all,
    "ReportEvent": ReportEvent.all,
    "FollowUp": FollowUp.all,
    "Notification": lambda: Notification.filter(channel=Channel.IN_APP),
    "Delivery": lambda: Notification.exclude(channel=Channel.IN_APP),
    "User": User.all,
    "Region": Region.all,
    "Agency": Agency.all,
    "Category": Category.all,
}


PHOTO = ("IMG_20261130_puskesmas.jpg", phone_jpeg(), "image/jpeg")
PDF = ("surat-keluhan.pdf", authored_pdf(), "application/pdf")
# The reports whose answer from the Puskesmas comes with an evidence photo.
EVIDENCED = ("R1", "R3")
SUBMIT = f"""mutation($input: ReportSubmitInput!) {{ reportSubmit(input: $input) {{
  report {{ id trackingCode attachments {{ id }} }} {ERRORS} }} }}"""
HIDE = f"""mutation($id: ID!) {{ attachmentHide(attachmentId: $id, reason: "Wajah terlihat") {{
  attachment {{ id }} {ERRORS} }} }}"""
EVIDENCE = f"""mutation($id: ID!, $files: [Upload!]) {{
  assignmentFollowUp(assignmentId: $id, message: "Sudah kami tangani", final: true,
                     resolution: RESOLVED, attachments: $files) {{ assignment {{ id }} {ERRORS} }}
}}"""


def crawl_settings(redis_url: str, smtp: SmtpServer) -> Settings:
    """Limits that let the generated operations through (the walk is long, not costly to
    run), e-mail to the test's SMTP server, webhooks to its receivers on loopback."""
    return live_settings(
        redis_url,
        max_query_tokens=10**7,
        max_query_depth=100,
        max_query_aliases=10**5,
        max_query_cost=10**12,
        max_body_bytes=10**8,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        webhook_allow_http=True,
        webhook_allowed_networks=["127.0.0.0/8"],
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def hooks() -> Iterator[dict[str, WebhookReceiver]]:
    receivers = {code: WebhookReceiver() for code in AGENCIES[:3]}
    for receiver in receivers.values():
        receiver.__enter__()
    try:
        yield receivers
    finally:
        for receiver in receivers.values():
            receiver.__exit__()


@pytest.fixture
async def live_crawl(
    db: str, redis_url: str, smtp: SmtpServer, hooks: dict[str, WebhookReceiver]
) -> AsyncIterator[Live]:
    for code, receiver in hooks.items():
        await Agency.filter(code=code, region__code="35.09").update(
            webhook_url=receiver.url, webhook_secret="s" * 40
        )
    try:
        async with serving(crawl_settings(redis_url, smtp)) as live:
            yield live
    finally:
        await Agency.filter(code__in=list(hooks)).update(webhook_url=None, webhook_secret=None)


# Loggers of the test's own side (its HTTP and WebSocket clients, its SMTP server).
TEST_SIDE = ("httpx", "httpcore", "websockets.client", "mail.log", "aiosmtpd")


class LogLines(logging.Handler):
    """Every line the service logs while the crawl runs, at the level it runs at (INFO,
    core.logs.configure_logging), as JSON lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(TEST_SIDE):
            self.lines.append(JsonFormatter().format(record))


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    handler = LogLines()
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


# ------------------------------------------------------------------------------- the story


class Story:
    """The population, told through one API process while its subscribers listen."""

    def __init__(self, live: Live, relay: OutboxRelay) -> None:
        self.live = live
        self.relay = relay
        self.people: dict[str, GQL] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.listeners: list[LiveClient] = []  # the subscribers, once they listen
        self.reporter_email = f"penanda-{TAG}@example.org"
        self.reporter_name = f"Penanda Rahasia {TAG}"
        self.reporter_phone = f"+62 812 {TAG[:3]} {TAG[3:]}"

    def place(self, label: str) -> dict[str, Any]:
        n = int(label[1])
        return {
            "address": f"Jl. Penanda {TAG} No. {n}",
            "latitude": round(-8.1 - n / 1000 - 0.000123, 6),
            "longitude": round(113.6 + n / 1000 + 0.000456, 6),
        }

    async def act(self, who: str, mutation: str, **variables: Any) -> dict[str, Any]:
        done = await ok(self.people[who], mutation, **variables)
        await self.settle()
        return done

    async def settle(self) -> None:
        await self.relay.drain()  # the worker's relay: notifications stored and pushed
        await quiet(self.listeners)

    async def cast(self) -> None:
        """Everyone signed in through this process; the reporter registered with a phone."""
        public = GQL(self.live.http)
        await public(
            "mutation($i: RegisterInput!) { authRegister(input: $i) { errors { code } } }",
            {
                "i": {
                    "name": self.reporter_name,
                    "email": self.reporter_email,
                    "password": PASSWORD,
                    "phone": self.reporter_phone,
                }
            },
        )
        self.people = {"public": public, "reporter": await public.sign_in(self.reporter_email)}
        for who, email in DEMO_VIEWERS.items():
            name = "citizen" if who == "reporter" else who
            self.people[name] = await public.sign_in(email)

    async def first_half(self) -> dict[str, str]:
        """Submitted, verified to the wrong agency, returned, re-assigned: the DINKES
        assignments by report."""
        dinkes: dict[str, str] = {}
        for label, (anonymous, confidential) in FLAGS.items():
            sent = await submit_files(
                self.people["reporter"],
                SUBMIT,
                [PHOTO, PDF] if label == "R1" else [PHOTO],
                title=f"JUDUL-{label}-{TAG} antrean puskesmas",
                body=f"ISI-{label}-{TAG}: pasien menunggu lima jam.",
                anonymous=anonymous,
                confidential=confidential,
                ombudsmanConsent=True,
                **self.place(label),
            )
            report = accepted(uploaded(sent, "reportSubmit"))
            await self.settle()
            self.reports[label] = report
            (wrong,) = await verify(self.people["coordinator"], report["id"], "DPUPR")
            await self.relay.drain()
            await self.act("dpupr", RETURN, id=wrong, suggested=await agency_gid("DINKES"))
            assigned = await self.act(
                "coordinator", ASSIGN, id=report["id"], agency=await agency_gid("DINKES")
            )
            dinkes[label] = assigned["id"]
        # The anonymous public report's photo shows a face: the desk hides it.
        await self.act("coordinator", HIDE, id=self.reports["R2"]["attachments"][0]["id"])
        return dinkes

    async def second_half(self, dinkes: dict[str, str]) -> None:
        """Accepted, answered in the interim, forwarded to the Puskesmas, which answers (R4 it
        keeps open, and R4 is handed over); the neighbour supports the public ones."""
        for label, assignment in dinkes.items():
            await self.act("officer", ACCEPT, id=assignment, tier="STANDARD")
            await self.act("officer", INTERIM, id=assignment)
            child = await self.act(
                "officer", FORWARD, id=assignment, agency=await agency_gid("PKM-SUMBERSARI")
            )
            await self.act("puskesmas", ACCEPT, id=child["id"], tier="SIMPLE")
            if label == "R4":
                await miss_deadline(child["id"])
                await self.act("coordinator", ESCALATE, id=self.reports[label]["id"])
            elif label in EVIDENCED:
                sent = await self.people["puskesmas"].upload(
                    EVIDENCE, {"id": child["id"], "files": [None]}, {"variables.files.0": PHOTO}
                )
                accepted(uploaded(sent, "assignmentFollowUp"))
                await self.settle()
            else:
                await self.act(
                    "puskesmas", FOLLOW_UP, id=child["id"], final=True, resolution="RESOLVED"
                )
            if not FLAGS[label][1]:
                await self.act("citizen", SUPPORT, id=self.reports[label]["id"])


# ------------------------------------------------------------------------------- the crawl


async def viewers_of(story: Story) -> dict[str, Viewer]:
    """Every row of the matrix: the public and each signed-in person, with their Actor."""
    found = {"public": Viewer("public", PUBLIC)}
    for who, client in story.people.items():
        if who != "public":
            me = await client("{ me { id } }")
            found[who] = Viewer(who, await actor_for_user(pk(me["me"]["id"])))
    return found


async def markers_of(story: Story) -> list[Marker]:
    reporter = await User.get(email=story.reporter_email)
    found = [
        Marker(reporter.name, "reporter name", person=reporter.id),
        Marker(reporter.email, "reporter e-mail", person=reporter.id),
        Marker(story.reporter_phone, "reporter phone", person=reporter.id),
    ]
    for label, report in story.reports.items():
        rid = (await Report.get(tracking_code=report["trackingCode"])).id
        place = story.place(label)
        found += [
            Marker(f"JUDUL-{label}-{TAG}", "title", report=rid),
            Marker(f"ISI-{label}-{TAG}", "body", report=rid),
            Marker(place["address"], "address", report=rid),
            Marker(place["latitude"], "latitude", report=rid),
            Marker(place["longitude"], "longitude", report=rid),
        ]
    # Each file, by its global id: an Attachment is seen only where the policy shows it.
    for row in await Attachment.all():
        found.append(Marker(to_global_id("Attachment", row.id), "file", report=row.report_id))
    for account in DEMO_ACCOUNTS:
        if account.role in STAFF_ROLES:
            person = (await User.get(email=account.email)).id
            found += [
                Marker(account.name, "staff name", person=person),
                Marker(account.email, "staff e-mail", person=person),
            ]
    return found


async def files_of() -> dict[int, tuple[int, AttachmentFacts]]:
    """Each file as the crawl ends: its report, and the policy's facts of it."""
    return {
        row.id: (row.report_id, AttachmentFacts(row.uploader_id, row.hidden_at is not None))
        for row in await Attachment.all()
    }


async def fetch_links(crawl: Crawl, viewers: dict[str, Viewer], http: GQL) -> list[str]:
    """Every signed link any viewer was given, fetched once: each must be served (200) with no
    metadata left; counted per viewer as the matrix's "file links". Returns what went wrong."""
    served: dict[str, tuple[int, list[bytes]]] = {}
    wrong = []
    for who, links in crawl.links.items():
        for link in sorted(links):
            if link not in served:
                answer = await http.fetch(link)
                served[link] = (answer.status_code, leaked(answer.content))
            status, secrets = served[link]
            crawl.checked[(viewers[who].name, "file links")] += 1
            if status != 200 or secrets:
                wrong.append(f"{who}: {link} answered {status}, leaking {secrets}")
    return wrong


async def reports_of_ids() -> dict[str, int | None]:
    """Every global id `node(id:)` can fetch, with the report it belongs to (None: none)."""
    missing = set(Node.registry) - set(NODE_TABLES)
    assert not missing, f"the crawl does not know the table of node types {missing}"
    found: dict[str, int | None] = {}
    for type_name, rows in NODE_TABLES.items():
        for row in await rows():
            report = getattr(row, "report_id", None)
            if type_name == "Report":
                report = row.id
            elif type_name == "FollowUp":
                report = (await Assignment.get(id=row.assignment_id)).report_id
            found[to_global_id(type_name, row.id)] = report
    return found


async def root_variants() -> dict[str, list[dict[str, str]]]:
    """The argument sets each root query field is asked with (required ones filled)."""
    codes = [quoted(r.tracking_code) for r in await Report.all()]
    month, quarter = _story_periods(await Report.all())
    agencies = [quoted(await agency_gid(code)) for code in AGENCIES]
    ids = [quoted(gid) for gid in await reports_of_ids()]
    return {
        "node": [{"id": i} for i in ids],
        "report": [{"trackingCode": c} for c in [*codes, quoted("LPR-0000-0000")]],
        "inbox": [{"agencyId": a} for a in agencies],
        "daysOff": [{"year": "2026"}],
        # The figures of the story's month and quarter, of Jember's agencies and of all.
        "agencyPerformance": [
            {"period": quoted(month)},
            {"period": quoted(month), "regionId": quoted(await region_gid(JEMBER))},
        ],
        "regionPerformance": [{"period": quoted(month)}, {"period": quoted(quarter)}],
        "agencyBacklog": [{"regionId": quoted(await region_gid(JEMBER))}],
        "reports": [{}, {"filter": "{mine: true}"}, {"filter": '{search: "antrean puskesmas"}'}],
        # The story's own words, near its places: every report would be a candidate.
        "similarPublicReports": [
            {
                "title": quoted("antrean puskesmas"),
                "body": quoted("pasien menunggu lima jam"),
                "regionId": quoted(await region_gid(JEMBER)),
                "latitude": "-8.17",
                "longitude": "113.70",
                "first": "100",
            }
        ],
    }


def _story_periods(made: list[Report]) -> tuple[str, str]:
    """The month and quarter (WIB) the story's reports came in."""
    first = min(r.created_at for r in made).astimezone(ZoneInfo("Asia/Jakarta"))
    return first.strftime("%Y-%m"), f"{first.year}-Q{(first.month - 1) // 3 + 1}"


async def crawl_queries(crawl: Crawl, viewers: dict[str, Viewer], story: Story) -> list[str]:
    """Every root query field for every viewer; returns the paths read."""
    variants = await root_variants()
    paths: list[str] = []
    root = SCHEMA.query_type
    assert root is not None
    for name in root.fields:
        asked = variants.get(name, [{}])
        document = field_document("query", root, name, asked)
        batched = name in ("node", "report")  # nullable: one answer holds them all
        documents = (
            [document] if batched else [field_document("query", root, name, [v]) for v in asked]
        )
        for who, viewer in viewers.items():
            for text in documents:
                response = await story.people[who].raw(text)
                assert response.status_code == 200, response.text
                body = response.json()
                refusals = {e["extensions"]["code"] for e in body.get("errors") or []}
                assert refusals <= REFUSALS, (name, who, body["errors"][:3])
                data = body.get("data") or {}
                for value in data.values():
                    path = f"Query.{name}"
                    if name == "node" and isinstance(value, dict):
                        path = f"node {value.get('__typename')}"
                    crawl.read(viewer, path, value)
                    paths.append(path)
                if body.get("errors"):  # refusals are read too: they may say nothing either
                    crawl.read(viewer, f"Query.{name}", body["errors"])
                    paths.append(f"Query.{name}")
    return list(dict.fromkeys(paths))


# What a viewer may be told instead of an answer; anything else is the crawl's own mistake.
REFUSALS = {"FORBIDDEN", "UNAUTHENTICATED", "NOT_FOUND"}

SUBSCRIPTIONS = {
    "inboxEvents": "agencyId",
    "reportEvents": "reportId",
    "notificationAdded": None,
}


async def subscribe_all(live: Live, story: Story) -> dict[str, LiveClient]:
    """Every signed-in viewer subscribed to every subscription it may ask for."""
    root = SCHEMA.subscription_type
    assert root is not None
    assert set(root.fields) == set(SUBSCRIPTIONS), "teach the crawl the new subscription"
    keys = {
        "agencyId": [await agency_gid(code) for code in AGENCIES],
        "reportId": [r["id"] for r in story.reports.values()],
    }
    clients: dict[str, LiveClient] = {}
    for who, person in story.people.items():
        if who == "public":
            continue
        client = await live.connect(person)
        for name, argument in SUBSCRIPTIONS.items():
            target = get_named_type(root.fields[name].type)
            inner = selection(target, ("Subscription",))
            if argument is None:
                await client.subscribe(name, f"subscription {{ {name} {{ {inner} }} }}")
                continue
            for i, key in enumerate(keys[argument]):
                await client.subscribe(
                    f"{name}:{i}",
                    f"subscription($k: ID!) {{ {name}({argument}: $k) {{ {inner} }} }}",
                    {"k": key},
                )
        clients[who] = client
    return clients


async def deliver_everything(settings: Settings) -> None:
    """Every pending e-mail and webhook, sent once by the workers' transports."""
    transports = Transports(settings)
    try:
        pending = await Notification.filter(status=DeliveryStatus.PENDING).values_list(
            "id", flat=True
        )
        for nid in pending:
            await attempt_delivery(
                int(nid), datetime.now(UTC), transports.send, RetryPolicy(max_attempts=1)
            )
    finally:
        await transports.close()


def tracking_context(text: str, reports: dict[str, int]) -> int | None:
    """The report a mail or a webhook body is about, by the tracking code it names."""
    for code, rid in reports.items():
        if code in text:
            return rid
    return None


async def test_every_path_shows_each_marker_exactly_where_the_policy_allows(
    live_crawl: Live,
    redis_url: str,
    smtp: SmtpServer,
    hooks: dict[str, WebhookReceiver],
    log_lines: LogLines,
    capsys: pytest.CaptureFixture[str],
    compiled_matches_generic: list[Mismatch],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = live_crawl
    # Links given early in the story (to subscribers) are still good when the crawl fetches them.
    monkeypatch.setattr(get_settings(), "file_link_ttl_seconds", 3600)
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    relay = OutboxRelay(redis_url, pool, email_enabled=True)
    story = Story(live, relay)
    try:
        await story.cast()
        dinkes = await story.first_half()
        await make_thumbnails()
        clients = await subscribe_all(live, story)
        story.listeners = list(clients.values())
        await quiet(story.listeners)
        # While the story goes on, the subscribers' events are not run again on the generic
        # executor (tests/conftest.py): that second run would read the next change already.
        # Every query below is compared as usual.
        check_against_generic(None)
        try:
            await story.second_half(dinkes)
        finally:
            check_against_generic(compiled_matches_generic.append)
        await make_thumbnails()
        await deliver_everything(live.settings)
        # The reporter's mail ran out of tries: the superadmin's dead letters are crawled too.
        reporter = await User.get(email=story.reporter_email)
        await Notification.filter(user_id=reporter.id, channel=Channel.EMAIL).update(
            status=DeliveryStatus.DEAD, last_error=f"SMTP 550 <{reporter.email}> full"
        )

        # The workers' fold of the transparency figures: what the story counts is crawled.
        await transparency.catch_up(datetime.now(UTC))
        facts = {r.id: await report_facts(r) for r in await Report.all()}
        judge = Judge(facts, await markers_of(story), await files_of())
        crawl = Crawl(judge, await reports_of_ids())
        viewers = await viewers_of(story)
        paths = await crawl_queries(crawl, viewers, story)
        for who, client in clients.items():
            for sid, messages in client.messages.items():
                path = f"Subscription.{sid.split(':')[0]}"
                payloads = [m.get("payload") for m in messages]
                assert _codes(payloads) <= REFUSALS, (who, sid, payloads[:2])
                crawl.read(viewers[who], path, payloads)
            await client.close()
        paths += [f"Subscription.{name}" for name in SUBSCRIPTIONS]

        codes = {r.tracking_code: r.id for r in await Report.all()}
        by_email = {
            (await User.get(id=v.actor.user_id)).email: v
            for v in viewers.values()
            if v.actor.user_id is not None
        }
        for mail in smtp.mails:
            headers = [str(mail.message["Subject"]), str(mail.message["To"])]
            text = " ".join([*headers, mail.part("text/plain"), mail.part("text/html")])
            for address in mail.recipients:
                viewer = by_email.get(address) or Viewer("other staff", await actor_for(address))
                crawl.read(viewer, "e-mail", text, tracking_context(text, codes))
        desks = {"DINKES": "officer", "DPUPR": "dpupr", "PKM-SUMBERSARI": "puskesmas"}
        for code, receiver in hooks.items():
            for hit in receiver.hits:
                body = hit.body.decode()
                crawl.read(viewers[desks[code]], "webhook", body, tracking_context(body, codes))
        for document in await _open311(live, list(codes)):
            crawl.read(viewers["public"], "Open311", document)
        for document in await _transparansi(live, await Report.all()):
            crawl.read(viewers["public"], "transparansi", document)
        badly_served = await fetch_links(crawl, viewers, story.people["public"])
        crawl.read(Viewer("operator (logs)", PUBLIC), "logs", log_lines.lines)
    finally:
        await pool.aclose()

    columns = [*paths, "e-mail", "webhook", "Open311", "transparansi", "file links", "logs"]
    rows = [*viewers, "other staff", "operator (logs)"]
    matrix = crawl.matrix(rows, list(dict.fromkeys(columns)))
    _show(matrix, capsys)

    policy = {
        who: {
            label: (
                allowed_on_report(viewer.actor, Action.READ, facts[codes[r["trackingCode"]]]),
                allowed_on_report(
                    viewer.actor, Action.SEE_REPORTER, facts[codes[r["trackingCode"]]]
                ),
            )
            for label, r in story.reports.items()
        }
        for who, viewer in viewers.items()
    }
    assert policy == AUDIT

    leaks = [
        f"{s.viewer} on {s.path} at {s.where}: {s.marker.kind} {s.marker.value!r}"
        f" (report {s.marker.report or s.context})"
        for s in crawl.leaks
    ]
    assert leaks == [], "\n".join(leaks[:40])
    # Every root field was crawled for someone, and came back with something.
    crawled = {path for (_, path), n in crawl.checked.items() if n}
    for name in SCHEMA.query_type.fields:  # type: ignore[union-attr]
        assert f"Query.{name}" in crawled or name == "node", name
    for name in SUBSCRIPTIONS:
        assert f"Subscription.{name}" in crawled, name
    assert {f"node {t}" for t in NODE_TABLES} <= crawled
    # Every file's original, and every image's thumbnail, was given to someone and served clean.
    assert badly_served == []
    given = {link.split("?")[0] for links in crawl.links.values() for link in links}
    images = await Attachment.filter(content_type__startswith="image/").values_list("id", flat=True)
    assert given == {f"/files/{row}/original" for row in judge.files} | {
        f"/files/{row}/thumbnail" for row in images
    }
    # What is allowed shows up: each report's markers and the reporter's identity, exactly.
    graphql_paths = [p for p in dict.fromkeys(paths)]
    wrong: dict[str, dict[str, set[str]]] = {}
    for who, viewer in viewers.items():
        seen = {m for m in crawl.seen_by(who, graphql_paths) if m.kind != "staff name"}
        seen = {m for m in seen if m.kind != "staff e-mail"}
        expected = {
            m
            for m in judge.markers
            if m.kind not in ("staff name", "staff e-mail", "reporter phone")
            and _visible(judge, viewer, m)
        }
        if seen != expected:
            wrong[who] = {
                "missing": {f"{m.kind} {m.value}" for m in expected - seen},
                "unexpected": {f"{m.kind} {m.value}" for m in seen - expected},
            }
    assert wrong == {}
    # Staff see staff by name; citizens and the public never do (the leak check above).
    for who, viewer in viewers.items():
        names = {m for m in crawl.seen_by(who, graphql_paths) if m.kind == "staff name"}
        others = {m for m in names if m.person != viewer.actor.user_id}
        assert bool(others) is (who not in ("public", "reporter", "citizen")), who


async def make_thumbnails() -> None:
    """The workers' thumbnails of the images stored so far (the crawl runs no worker)."""
    for attachment_id in await missing_thumbnails(100):
        assert await make_thumbnail(attachment_id)


def _visible(judge: Judge, viewer: Viewer, marker: Marker) -> bool:
    """Whether the API shows `marker` to `viewer` somewhere: a report's marker where it may
    read (or see the reporter of) that report; the reporter's identity wherever any of the
    reports lets it be seen."""
    if marker.report is not None:
        return judge.allowed(viewer, marker, marker.report)
    reports = {m.report for m in judge.markers if m.report is not None}
    return any(judge.allowed(viewer, marker, r) for r in reports) or judge.allowed(
        viewer, marker, None
    )


def _codes(found: Any) -> set[str]:
    """Every `extensions.code` in a subscription's messages (refusals and field errors)."""
    if isinstance(found, dict):
        code = (found.get("extensions") or {}).get("code") if "message" in found else None
        inner = {c for v in found.values() for c in _codes(v)}
        return inner | ({code} if isinstance(code, str) else set())
    if isinstance(found, list):
        return {c for v in found for c in _codes(v)}
    return set()


async def quiet(clients: list[LiveClient], seconds: float = 5.0) -> None:
    """Until no subscriber has heard anything for a moment: each event of the last change has
    been read, sent, and checked against the generic executor (tests/conftest.py) before the
    next change, which that check would otherwise read too."""
    deadline = asyncio.get_running_loop().time() + seconds
    heard = -1
    while asyncio.get_running_loop().time() < deadline:
        now_heard = sum(len(m) for c in clients for m in c.messages.values())
        if now_heard == heard:
            return
        heard = now_heard
        await asyncio.sleep(0.15)


async def _open311(live: Live, codes: list[str]) -> list[Any]:
    documents = []
    for path in [
        "/open311/v2/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        *[f"/open311/v2/requests/{code}.json" for code in codes],
    ]:
        response = await live.http.get(path)
        documents.append(response.json())
    return documents


async def _transparansi(live: Live, made: list[Report]) -> list[str]:
    """The public page and its CSV downloads for the story's month and quarter."""
    documents = []
    for period in _story_periods(made):
        for path in [
            f"/transparansi?periode={period}",
            f"/transparansi?periode={period}&wilayah={JEMBER}",
            f"/transparansi/instansi.csv?periode={period}",
            f"/transparansi/wilayah.csv?periode={period}",
        ]:
            response = await live.http.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            documents.append(response.text)
    return documents


def _show(matrix: str, capsys: pytest.CaptureFixture[str]) -> None:
    artifacts = ROOT / "var" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "privacy-crawl.txt").write_text(matrix + "\n")
    with capsys.disabled():
        print("\nPrivacy crawl: values read per viewer and path (·: nothing came back)")
        print(matrix)
