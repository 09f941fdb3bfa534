"""Who sees a report's photo, and whose link to it works (issue 14): every viewer x report kind
(public, confidential, anonymous) x before/after the desk verifies x shown/hidden. The
expectation of each cell is the pure policy's (`attachment_access` on the report's facts as
the cell is read); a few cells written out by hand tie the policy to what the issue says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.actor import PUBLIC, Actor
from domain.policy import AttachmentFacts, FileAccess, ReportFacts, attachment_access
from domain.services.attachments import make_thumbnail
from domain.services.common import facts_for
from models import Attachment, Report
from tests.app_fixtures import CITIZEN_EMAIL, DEMO_VIEWERS, GQL, People, pk
from tests.factories import ERRORS, actor_for, ok, submit_files, uploaded, verify
from tests.files import authored_pdf, phone_jpeg

PHOTO = ("IMG_20261130_jalan.jpg", phone_jpeg(), "image/jpeg")
PDF = ("surat.pdf", authored_pdf(), "application/pdf")
KINDS: dict[str, dict[str, Any]] = {
    "public": {},
    "confidential": {"confidential": True},
    "anonymous": {"anonymous": True},
}
SUBMIT = f"""mutation($input: ReportSubmitInput!) {{
  reportSubmit(input: $input) {{ report {{ id attachments {{ id url thumbnailUrl }} }} {ERRORS} }}
}}"""
HIDE = f"""mutation($id: ID!) {{ attachmentHide(attachmentId: $id, reason: "Wajah terlihat") {{
  attachment {{ id }} {ERRORS} }} }}"""
SHOW = f"""mutation($id: ID!) {{ attachmentShow(attachmentId: $id) {{
  attachment {{ id }} {ERRORS} }} }}"""
LISTED = "query { reports(first: 100) { edges { node { id attachments { id } } } } }"


def by_node(report_ids: list[str]) -> str:
    """One query reading each report by `node(id:)` (aliased r0, r1, ...), with its files."""
    asked = " ".join(
        f'r{i}: node(id: "{rid}") {{ ... on Report {{ attachments {{ id url thumbnailUrl }} }} }}'
        for i, rid in enumerate(report_ids)
    )
    return f"query {{ {asked} }}"


@dataclass(frozen=True)
class Seen:
    """One cell as read: the photo listed by node(id:) and by reports(), and how its link and
    its thumbnail's answered (None: no link was given)."""

    by_node: bool
    by_list: bool
    original: int | None
    thumbnail: int | None


def expected(access: FileAccess | None) -> Seen:
    """A cell as the policy's answer makes it: listed everywhere, its links served, or nothing."""
    shown = access is not None
    return Seen(shown, shown, 200 if shown else None, 200 if shown else None)


def link_says_public(url: str) -> bool:
    return parse_qs(urlsplit(url).query)["p"] == ["1"]


async def actors_of(people: People) -> dict[str, Actor]:
    """The policy's Actor of each viewer of the `people` fixture."""
    emails = {"citizen": CITIZEN_EMAIL, **DEMO_VIEWERS}
    return {who: PUBLIC if who == "public" else await actor_for(emails[who]) for who in people}


async def file_facts(report_ids: dict[str, str]) -> dict[str, tuple[ReportFacts, AttachmentFacts]]:
    """The facts of each kind's report and of its one file, as they are now."""
    reports = {r.id: r for r in await Report.filter(id__in=[pk(g) for g in report_ids.values()])}
    facts = await facts_for(list(reports.values()))
    found = {}
    for kind, gid in report_ids.items():
        row = await Attachment.get(report_id=pk(gid))
        found[kind] = (facts[pk(gid)], AttachmentFacts(row.uploader_id, row.hidden_at is not None))
    return found


async def read_cells(
    people: People, report_ids: dict[str, str], photo_ids: dict[str, str]
) -> tuple[dict[tuple[str, str], Seen], dict[tuple[str, str], str]]:
    """Every viewer's reading of each kind's report: the cells, and the links they were given."""
    kinds = list(report_ids)
    cells: dict[tuple[str, str], Seen] = {}
    links: dict[tuple[str, str], str] = {}
    for who, client in people.items():
        answer = await client(by_node([report_ids[k] for k in kinds]))
        listed = {
            edge["node"]["id"]: {a["id"] for a in edge["node"]["attachments"]}
            for edge in (await client(LISTED))["reports"]["edges"]
        }
        for i, kind in enumerate(kinds):
            report = answer[f"r{i}"]
            files = [a for a in (report or {}).get("attachments", []) if a["id"] == photo_ids[kind]]
            status: list[int | None] = [None, None]
            if files:
                links[(who, kind)] = files[0]["url"]
                for n, url in enumerate((files[0]["url"], files[0]["thumbnailUrl"])):
                    status[n] = (await client.fetch(url)).status_code if url else None
            cells[(who, kind)] = Seen(
                by_node=bool(files),
                by_list=photo_ids[kind] in listed.get(report_ids[kind], set()),
                original=status[0],
                thumbnail=status[1],
            )
    return cells, links


async def test_each_viewer_sees_and_fetches_a_reports_photo_exactly_as_the_policy_says(
    people: People,
) -> None:
    """Proves, for 11 viewers x 3 kinds x {before, after verify} x {shown, hidden}, that
    node(id:), reports() and the signed links show a photo exactly when the policy lets the
    viewer see it, and that a public link stops working once the photo is hidden."""
    report_ids: dict[str, str] = {}
    photo_ids: dict[str, str] = {}
    for kind, flags in KINDS.items():
        sent = await submit_files(people["reporter"], SUBMIT, [PHOTO], **flags)
        report = uploaded(sent, "reportSubmit")["report"]
        report_ids[kind] = report["id"]
        photo_ids[kind] = report["attachments"][0]["id"]
        assert await make_thumbnail(pk(photo_ids[kind]))
    actors = await actors_of(people)
    coordinator = people["coordinator"]

    # One photo a kind goes through the four states in turn; links given in one state are
    # fetched again in the next (a public one works only while the photo is still public).
    phases: list[tuple[str, str | None]] = [
        ("before verify, hidden", "hide"),
        ("before verify, shown", "show"),
        ("after verify, shown", "verify"),
        ("after verify, hidden", "hide"),
    ]
    seen: dict[tuple[str, str, str], Seen] = {}
    wanted: dict[tuple[str, str, str], Seen] = {}
    stale_seen: dict[tuple[str, str, str], int] = {}
    stale_wanted: dict[tuple[str, str, str], int] = {}
    links: dict[tuple[str, str], str] = {}
    for phase, change in phases:
        for kind in KINDS:
            if change == "verify":
                await verify(coordinator, report_ids[kind], "DINKES")
            else:
                await ok(coordinator, HIDE if change == "hide" else SHOW, id=photo_ids[kind])
        facts = await file_facts(report_ids)
        for (who, kind), url in links.items():
            # A link serves only while the policy still lets whom it was given to see the file:
            # the public for a public link, its viewer for any other.
            holder = PUBLIC if link_says_public(url) else actors[who]
            still = attachment_access(holder, *facts[kind]) is not None
            stale_seen[(phase, who, kind)] = (await people[who].fetch(url)).status_code
            stale_wanted[(phase, who, kind)] = 200 if still else 404
        cells, links = await read_cells(people, report_ids, photo_ids)
        for (who, kind), cell in cells.items():
            access = attachment_access(actors[who], *facts[kind])
            seen[(phase, who, kind)] = cell
            wanted[(phase, who, kind)] = expected(access)
            if (who, kind) in links:
                assert link_says_public(links[(who, kind)]) is (access is FileAccess.PUBLIC)

    wrong = {cell: (seen[cell], wanted[cell]) for cell in wanted if seen[cell] != wanted[cell]}
    assert wrong == {}, "\n".join(f"{c}: seen {s}, policy {w}" for c, (s, w) in wrong.items())
    assert stale_seen == stale_wanted
    assert len(seen) == 4 * 11 * 3

    # Anchors, by hand from the issue: the policy above says what the issue says.
    def shown(phase: str, who: str, kind: str) -> bool:
        return seen[(phase, who, kind)] == expected(FileAccess.PUBLIC)

    assert shown("after verify, shown", "public", "public")
    assert shown("after verify, shown", "public", "anonymous")
    assert not shown("before verify, shown", "public", "public")
    assert not any(shown(p, "public", "confidential") for p, _ in phases)
    assert not any(shown(p, "citizen", k) for p, _ in phases for k in KINDS if "hidden" in p)
    assert all(
        shown("after verify, hidden", desk, k) for desk in ("officer", "head") for k in KINDS
    )
    assert not shown("before verify, hidden", "officer", "public")
    assert all(shown(p, "reporter", k) for p, _ in phases for k in KINDS)  # their own photo
    assert not shown("after verify, shown", "jayapura", "confidential")
    # The public link the citizen had to the public report's photo died when it was hidden.
    assert stale_seen[("after verify, hidden", "citizen", "public")] == 404
    assert stale_seen[("after verify, hidden", "officer", "public")] == 200


async def test_a_link_cannot_be_turned_into_another_files_or_variants(people: People) -> None:
    """Proves the signature binds the file and the variant: a link re-pointed at another file
    (one its holder may not see), or a thumbnail's link at the original, is refused (403)."""
    mine = uploaded(await submit_files(people["reporter"], SUBMIT, [PHOTO]), "reportSubmit")
    secret = uploaded(
        await submit_files(people["citizen"], SUBMIT, [PDF], confidential=True), "reportSubmit"
    )
    photo = mine["report"]["attachments"][0]
    assert await make_thumbnail(pk(photo["id"]))
    read = await people["reporter"](by_node([mine["report"]["id"]]))
    (photo,) = read["r0"]["attachments"]
    other = pk(secret["report"]["attachments"][0]["id"])
    client: GQL = people["reporter"]
    for url in (photo["url"], photo["thumbnailUrl"]):
        assert (await client.fetch(url)).status_code == 200
        parts = urlsplit(url)
        moved = parts.path.replace(f"/{pk(photo['id'])}/", f"/{other}/")
        assert moved != parts.path
        answer = await client.fetch(f"{moved}?{parts.query}")
        assert answer.status_code == 403, moved
    thumbnail = urlsplit(photo["thumbnailUrl"])
    original = thumbnail.path.replace("/thumbnail", "/original")
    answer = await client.fetch(f"{original}?{thumbnail.query}")
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
