"""Files on reports over HTTP (issue 14): the GraphQL multipart request into reportSubmit,
reportAddInfo and assignmentFollowUp, what is stored and served (no metadata, upright), the
refusals that store nothing, the signed links, and the desk hiding a file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from core.settings import get_settings
from domain.services import attachments
from models import Attachment
from models.storage import DirectoryStore
from tests.app_fixtures import GQL, JEMBER, People, pk, region_gid
from tests.factories import (
    ACCEPT,
    ERRORS,
    REPORT,
    RETURN,
    in_progress,
    ok,
    submit_files,
    uploaded,
    verify,
)
from tests.files import authored_pdf, image_size, leaked, phone_jpeg

FILES = (
    "attachments { id source contentType byteSize width height hidden hiddenReason url "
    "thumbnailUrl }"
)
SUBMIT = f"""mutation($input: ReportSubmitInput!) {{
  reportSubmit(input: $input) {{ report {{ {REPORT} {FILES} }} {ERRORS} }} }}"""
ADD_INFO = f"""mutation($id: ID!, $files: [Upload!]) {{
  reportAddInfo(reportId: $id, message: "Foto tambahan", attachments: $files) {{
    report {{ {REPORT} {FILES} }} {ERRORS} }} }}"""
FOLLOW_UP = f"""mutation($id: ID!, $files: [Upload!]) {{
  assignmentFollowUp(assignmentId: $id, message: "Sudah diperbaiki", final: true,
    resolution: RESOLVED, attachments: $files) {{
    assignment {{ id followUps {{ {FILES} }} }} {ERRORS} }} }}"""
READ = f"""query($id: ID!) {{ node(id: $id) {{ ... on Report {{ id {FILES} }} }} }}"""
HIDE = f"""mutation($id: ID!, $reason: String!) {{
  attachmentHide(attachmentId: $id, reason: $reason) {{
    attachment {{ id hidden hiddenReason }} {ERRORS} }} }}"""
TIMELINE = """query($id: ID!) { node(id: $id) { ... on Report {
  timeline { edges { node { kind message } } } } } }"""
SHOW = f"""mutation($id: ID!) {{
  attachmentShow(attachmentId: $id) {{ attachment {{ id hidden }} {ERRORS} }} }}"""

JPEG = ("IMG_20261129_rumah.jpg", phone_jpeg(), "image/jpeg")
PDF = ("surat.pdf", authored_pdf(), "application/pdf")


def _stored_files() -> set[Path]:
    """The files in the directory store the service uses (the tests' default store)."""
    store = attachments.store()
    assert isinstance(store, DirectoryStore)
    root = store.root
    return {p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"}


async def _submit(client: GQL, *files: tuple[str, bytes, str], **fields: Any) -> httpx.Response:
    return await submit_files(client, SUBMIT, files, **fields)


async def test_a_photo_and_a_document_are_stored_and_served_without_metadata(
    people: People,
) -> None:
    response = await _submit(people["reporter"], JPEG, PDF)

    report = uploaded(response, "reportSubmit")["report"]
    photo, document = report["attachments"]
    assert (photo["contentType"], photo["source"]) == ("image/jpeg", "REPORTER")
    # Stored upright: the phone's 80x40 picture tagged "turn 90 degrees" is 40x80.
    assert (photo["width"], photo["height"]) == (40, 80)
    assert document["contentType"] == "application/pdf" and document["width"] is None
    served_photo = await people["reporter"].fetch(photo["url"])
    assert served_photo.status_code == 200
    assert served_photo.headers["content-type"] == "image/jpeg"
    assert served_photo.headers["x-content-type-options"] == "nosniff"
    assert leaked(served_photo.content) == [] and image_size(served_photo.content) == (40, 80)
    served_pdf = await people["reporter"].fetch(document["url"])
    assert served_pdf.status_code == 200 and leaked(served_pdf.content) == []
    # What is on disk is what was served, and nothing in the store keeps metadata.
    rows = await Attachment.filter(report_id=pk(report["id"])).order_by("id")
    store = attachments.store()
    assert isinstance(store, DirectoryStore)
    assert [store.path_of(r.blob_key).read_bytes() for r in rows] == [
        served_photo.content,
        served_pdf.content,
    ]
    assert all(leaked(p.read_bytes()) == [] for p in _stored_files())
    assert len(served_photo.content) == photo["byteSize"]


async def test_refused_uploads_store_nothing(people: People) -> None:
    s = get_settings()
    text = ("catatan.jpg", b"bukan gambar, hanya teks", "image/jpeg")
    truncated = ("potong.jpg", phone_jpeg((400, 300))[:600], "image/jpeg")
    big = ("besar.jpg", b"\xff\xd8\xff" + b"0" * s.upload_max_file_bytes, "image/jpeg")
    cases = [
        ((text,), "UNSUPPORTED_FILE", ["attachments", "0"]),
        ((JPEG, truncated), "UNREADABLE_FILE", ["attachments", "1"]),
        ((big,), "FILE_TOO_LARGE", ["attachments", "0"]),
    ]
    before = _stored_files()
    for files, code, field in cases:
        payload = uploaded(await _submit(people["reporter"], *files), "reportSubmit")
        assert payload["report"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], files
    # More files than one change may bring: refused before the operation runs.
    too_many = await _submit(people["reporter"], *(JPEG,) * (s.upload_max_files + 1))
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_FILES"
    assert _stored_files() == before
    assert await Attachment.all().count() == 0


async def test_the_reports_limit_holds_when_two_uploads_race(
    people: People, monkeypatch: Any
) -> None:
    response = await _submit(people["reporter"], JPEG)
    report = uploaded(response, "reportSubmit")["report"]
    size = report["attachments"][0]["byteSize"]
    # Room for one more file of this size, not two.
    monkeypatch.setattr(get_settings(), "upload_max_report_bytes", 2 * size + size // 2)

    async def add() -> dict[str, Any]:
        sent = await people["reporter"].upload(
            ADD_INFO, {"id": report["id"], "files": [None]}, {"variables.files.0": JPEG}
        )
        return uploaded(sent, "reportAddInfo")

    first, second = await asyncio.gather(add(), add())

    codes = sorted(e["code"] for p in (first, second) for e in p["errors"])
    assert codes == ["FILE_TOO_LARGE"]
    read = await people["reporter"](READ, {"id": report["id"]})
    assert len(read["node"]["attachments"]) == 2


async def test_a_citizens_photo_is_public_only_once_verified_and_the_desk_can_hide_it(
    people: People,
) -> None:
    report = uploaded(await _submit(people["reporter"], JPEG), "reportSubmit")["report"]
    public, citizen = people["public"], people["citizen"]

    # Before the desk verifies it, the public does not even see the report; another region's
    # desk may not know of it either: its file is not found, by the file's own id.
    assert (await public(READ, {"id": report["id"]}))["node"] is None
    unknown = await people["jayapura"].raw(
        HIDE, {"id": report["attachments"][0]["id"], "reason": "?"}
    )
    error = unknown.json()["data"]["attachmentHide"]["errors"][0]
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["attachmentId"])
    await verify(people["coordinator"], report["id"], "DINKES")
    (shown,) = (await citizen(READ, {"id": report["id"]}))["node"]["attachments"]
    assert (await citizen.fetch(shown["url"])).status_code == 200

    hidden = await ok(
        people["coordinator"], HIDE, id=shown["id"], reason="Wajah orang lain terlihat"
    )
    assert (hidden["hidden"], hidden["hiddenReason"]) == (True, "Wajah orang lain terlihat")

    # Gone for the public at once, link given before included; the reporter and desk keep it.
    assert (await citizen(READ, {"id": report["id"]}))["node"]["attachments"] == []
    assert (await citizen.fetch(shown["url"])).status_code == 404
    for who in ("reporter", "coordinator", "officer"):
        (kept,) = (await people[who](READ, {"id": report["id"]}))["node"]["attachments"]
        assert kept["hidden"] is True
    timeline = await people["reporter"](TIMELINE, {"id": report["id"]})
    lines = [e["node"] for e in timeline["node"]["timeline"]["edges"]]
    assert {"kind": "attachment.hidden", "message": "Wajah orang lain terlihat"} in lines

    again = await people["coordinator"].raw(HIDE, {"id": shown["id"], "reason": "lagi"})
    assert again.json()["data"]["attachmentHide"]["errors"][0]["code"] == "ALREADY_DONE"
    refused = await people["officer"].raw(SHOW, {"id": shown["id"]})
    assert refused.json()["data"]["attachmentShow"]["errors"][0]["code"] == "FORBIDDEN"
    # Another region's desk reads the public report, and may not hide its file either.
    other = await people["jayapura"].raw(SHOW, {"id": shown["id"]})
    assert other.json()["data"]["attachmentShow"]["errors"][0]["code"] == "FORBIDDEN"
    await ok(people["coordinator"], SHOW, id=shown["id"])
    assert len((await citizen(READ, {"id": report["id"]}))["node"]["attachments"]) == 1


async def test_an_agencys_evidence_comes_with_its_follow_up(people: People) -> None:
    _, (assignment_id,) = await in_progress(people)
    await ok(people["officer"], ACCEPT, id=assignment_id, tier="SIMPLE")

    sent = await people["officer"].upload(
        FOLLOW_UP, {"id": assignment_id, "files": [None]}, {"variables.files.0": JPEG}
    )

    follow_ups = uploaded(sent, "assignmentFollowUp")["assignment"]["followUps"]
    (evidence,) = follow_ups[-1]["attachments"]
    assert evidence["source"] == "AGENCY"
    served = await people["reporter"].fetch(evidence["url"])
    assert served.status_code == 200 and leaked(served.content) == []


async def test_an_altered_or_expired_link_is_refused(people: People, monkeypatch: Any) -> None:
    report = uploaded(await _submit(people["reporter"], JPEG), "reportSubmit")["report"]
    url = report["attachments"][0]["url"]
    parts = urlsplit(url)
    other_id = parts.path.replace("/original", "/thumbnail")
    for path, query in (
        (parts.path, parts.query.replace("p=0", "p=1")),
        (other_id, parts.query),
        (parts.path, parts.query[:-2] + "AA"),
        (parts.path, ""),
    ):
        answer = await people["reporter"].client.get(f"{path}?{query}")
        assert answer.status_code == 403, (path, query)
        assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    monkeypatch.setattr(get_settings(), "file_link_ttl_seconds", -1)
    expired = (await people["reporter"](READ, {"id": report["id"]}))["node"]["attachments"][0]
    assert (await people["reporter"].fetch(expired["url"])).status_code == 403


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"map": "{}"}, "operations"),
        ({"operations": "{", "map": "{}"}, "not valid JSON"),
        ({"operations": '[{"query": "{ __typename }"}]', "map": "{}"}, "batched"),
        ({"operations": '{"query": "{ __typename }"}', "map": '{"0": ["variables.x"]}'}, "'0'"),
    ],
)
async def test_a_malformed_multipart_request_is_a_coded_400(
    people: People, form: dict[str, str], message: str
) -> None:
    # A file part makes the body multipart; it is named "z", which `map` never names.
    answer = await people["reporter"].client.post(
        "/graphql", data=form, files={"z": ("a.txt", b"x", "text/plain")}
    )
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["errors"][0]["message"]


async def test_a_file_sent_in_json_is_a_clear_request_error(people: People) -> None:
    """An Upload variable holding text (or a literal in the query) is refused before anything
    runs, saying how files are sent; never a 500."""
    variables = {
        "input": {
            "kind": "COMPLAINT",
            "title": "Jalan rusak",
            "body": "Lubang besar.",
            "regionId": await region_gid(JEMBER),
            "attachments": ["data:image/jpeg;base64,/9j/4AAQ"],
        }
    }
    # (httpx accepts */*: application/json, where request errors are 200s without data.)
    answer = await people["reporter"].raw(SUBMIT, variables)
    assert answer.status_code == 200 and "data" not in answer.json(), answer.text
    (error,) = answer.json()["errors"]
    assert "multipart" in error["message"]
    literal = SUBMIT.replace("$input: ReportSubmitInput!", "$id: ID!").replace(
        "input: $input",
        'input: {kind: COMPLAINT, title: "t", body: "b", regionId: $id, attachments: ["x"]}',
    )
    answer = await people["reporter"].raw(literal, {"id": variables["input"]["regionId"]})
    assert answer.status_code == 200 and "data" not in answer.json(), answer.text
    assert "multipart" in answer.json()["errors"][0]["message"]
    assert await Attachment.all().count() == 0


async def test_a_link_serves_only_while_its_viewer_may_still_see_the_file(people: People) -> None:
    """A link given to a desk stops serving once the desk no longer reads the report (it
    returned it), before the link expires: the policy is asked again when the file is fetched."""
    report = uploaded(await _submit(people["reporter"], JPEG, confidential=True), "reportSubmit")
    (assignment_id,) = await verify(people["coordinator"], report["report"]["id"], "DINKES")
    read = await people["officer"](READ, {"id": report["report"]["id"]})
    (photo,) = read["node"]["attachments"]
    assert "p=0" in photo["url"]
    assert (await people["officer"].fetch(photo["url"])).status_code == 200

    await ok(people["officer"], RETURN, id=assignment_id)

    assert (await people["officer"].fetch(photo["url"])).status_code == 404
    # The same file, by the reporter's own link, is served as before.
    (mine,) = (await people["reporter"](READ, {"id": report["report"]["id"]}))["node"][
        "attachments"
    ]
    assert (await people["reporter"].fetch(mine["url"])).status_code == 200
