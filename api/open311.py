"""Open311 GeoReport v2, read-only and JSON: categories as services, public reports as
service requests, so civic apps and dashboards can read Lapor (docs/adr/0013).

Everything is read as the public through the same reading use cases and masked views as
GraphQL: only verified, non-confidential reports; an anonymous report without address or
coordinates; nobody's identity. `service_request_id` is the tracking code; `jurisdiction_id`
a region code. Times are ISO 8601 in the region's own offset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from core.bounds import PARAMETER_MAX_LENGTH, instant_problem, shifted, text_problem
from core.settings import Settings
from domain.actor import PUBLIC
from domain.errors import DomainError
from domain.lifecycle import FINAL_REPORT, PUBLIC_REPORT
from domain.services import assignments, attachments, reference, report_page, reports
from domain.services.reading import PageRequest
from domain.services.views import AssignmentView, ReportView
from models.enums import AssignmentStatus
from schema.attachments import origin_of
from schema.ids import from_cursor, to_cursor

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
BASE = "/open311/v2"
STATUSES = {
    "open": sorted(PUBLIC_REPORT - FINAL_REPORT),
    "closed": sorted(PUBLIC_REPORT & FINAL_REPORT),
}
# Agencies no longer acting on a report: it came back, or a sub-unit carries it on.
_NOT_RESPONSIBLE = frozenset({AssignmentStatus.RETURNED, AssignmentStatus.FORWARDED})
_MAX_IDS = 50
_DIGITS = re.compile(r"[0-9]{1,6}")


class Open311Error(Exception):
    """A refusal, answered in GeoReport's error format: [{"code", "description"}]."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        headers={**(headers or {}), "Content-Type": "application/json; charset=utf-8"},
    )


def _local(moment: datetime | None, timezone: str) -> str | None:
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds") if moment else None


def _param(request: Request, name: str) -> str | None:
    """A query parameter as sent, bounded like every text a client sends (core/bounds.py);
    None when absent or empty."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    problem = text_problem(raw, PARAMETER_MAX_LENGTH)
    if problem is not None:
        raise Open311Error(400, f"{name} {problem}")
    return raw


def _instant(request: Request, name: str) -> datetime | None:
    raw = _param(request, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C date-time, e.g. 2026-01-05T00:00:00Z"
        ) from None
    problem = instant_problem(moment)
    if problem is not None:
        raise Open311Error(400, f"{name} {problem}")
    return moment


def _listed(request: Request, name: str) -> list[str] | None:
    raw = _param(request, name)
    if raw is None or raw.strip() == "":
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


class Open311:
    """The GeoReport v2 endpoints over the public view of Lapor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def routes(self) -> list[BaseRoute]:
        """GET discovery, services and requests, JSON only."""
        return [
            Route(f"{BASE}/discovery.{{format}}", self._wrap(self.discovery)),
            Route(f"{BASE}/services.{{format}}", self._wrap(self.services)),
            Route(f"{BASE}/requests.{{format}}", self._wrap(self.requests)),
            Route(f"{BASE}/requests/{{request_id}}.{{format}}", self._wrap(self.request)),
        ]

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                if request.path_params["format"] != "json":
                    raise Open311Error(400, "only the json format is served: use .json")
                return await handler(request)
            except Open311Error as error:
                return _json(
                    [{"code": error.status, "description": error.description}], error.status
                )
            except DomainError as error:  # a value a use case refused: name the parameter
                named = f"{error.field[-1]}: " if error.field else ""
                return _json([{"code": 400, "description": named + error.message}], 400)

        return endpoint

    async def _jurisdiction(self, request: Request) -> int | None:
        code = _param(request, "jurisdiction_id")
        if not code:
            return None
        region = await reference.region_by_code(code)
        if region is None:
            raise Open311Error(404, f"no jurisdiction {code}: jurisdiction_id is a region code")
        return region.id

    async def discovery(self, request: Request) -> Response:
        """Where the GeoReport v2 endpoint is and what it serves."""
        return _json(
            {
                "changeset": "2026-11-28T00:00:00Z",
                "contact": "See the operator of this Lapor service.",
                "key_service": "No key is needed: the endpoint is read-only.",
                "endpoints": [
                    {
                        "specification": SPECIFICATION,
                        "url": str(request.base_url).rstrip("/") + BASE,
                        "changeset": "2026-11-28T00:00:00Z",
                        "type": "production",
                        "formats": ["application/json"],
                    }
                ],
            }
        )

    async def services(self, request: Request) -> Response:
        """The categories reports are filed under, as GeoReport services."""
        await self._jurisdiction(request)
        return _json(
            [
                {
                    "service_code": c.code,
                    "service_name": c.name,
                    "description": c.name,
                    "metadata": False,
                    "type": "realtime",
                    "keywords": "",
                    "group": "",
                }
                for c in await reference.all_categories()
            ]
        )

    async def request(self, request: Request) -> Response:
        """One public report by its tracking code, as a one-element list (as the spec says)."""
        await self._jurisdiction(request)
        code = request.path_params["request_id"]
        problem = text_problem(code, PARAMETER_MAX_LENGTH)
        if problem is not None:
            raise Open311Error(400, f"the service request id {problem}")
        view = await report_page.report_by_tracking_code(PUBLIC, code)
        if view is None:
            raise Open311Error(404, "no public service request with this id")
        return _json(await self._present(request, [view]))

    async def requests(self, request: Request) -> Response:
        """Public reports, newest first: by service_request_id (tracking codes), or filtered by
        start_date/end_date (requested_datetime; at most the window, default the last
        LAPOR_OPEN311_WINDOW_DAYS days), status, service_code, jurisdiction_id; a page of
        page_size, the next one linked (rel="next", param `after`)."""
        region_id = await self._jurisdiction(request)
        codes = _listed(request, "service_request_id")
        if codes is not None:
            if len(codes) > _MAX_IDS:
                raise Open311Error(400, f"at most {_MAX_IDS} service_request_id values at once")
            found = [await report_page.report_by_tracking_code(PUBLIC, code) for code in codes]
            return _json(await self._present(request, [v for v in found if v is not None]))
        now = datetime.now(UTC)
        window = timedelta(days=self.settings.open311_window_days)
        start, end = _instant(request, "start_date"), _instant(request, "end_date")
        # Held within what PostgreSQL stores: a window from year 9999 ends there.
        end = end or (shifted(start, window.total_seconds()) if start else now)
        start = start or shifted(end, -window.total_seconds())
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        if end - start > window:
            raise Open311Error(
                400, f"start_date and end_date may span {window.days} days at the most"
            )
        statuses = None
        wanted = _listed(request, "status")
        if wanted is not None:
            unknown = sorted(set(wanted) - set(STATUSES))
            if unknown:
                raise Open311Error(400, f"status is open or closed, not {', '.join(unknown)}")
            statuses = sorted({s for name in wanted for s in STATUSES[name]})
        category_ids = None
        service_codes = _listed(request, "service_code")
        if service_codes is not None:
            wanted_codes = set(service_codes)
            category_ids = [
                c.id for c in await reference.all_categories() if c.code in wanted_codes
            ]
        size = self._page_size(request)
        page = await reports.list_reports(
            PUBLIC,
            now,
            reports.ReportQuery(
                statuses=statuses,
                region_id=region_id,
                category_ids=category_ids,
                created_from=start,
                created_before=end,
            ),
            PageRequest(
                size,
                from_cursor(_param(request, "after")),
                default_size=size,
                max_size=self.settings.open311_page_size,
            ),
        )
        headers = {}
        if page.has_next:
            last = page.scanned_to if page.scanned_to is not None else page.items[-1].id
            params = {**request.query_params, "after": to_cursor(last)}
            headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
        return _json(await self._present(request, page.items), headers=headers)

    def _page_size(self, request: Request) -> int:
        most = self.settings.open311_page_size
        raw = _param(request, "page_size")
        if raw is None:
            return most
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= most:
            raise Open311Error(400, f"page_size must be a number from 1 to {most}")
        return int(raw)

    async def _present(self, request: Request, views: Sequence[ReportView]) -> list[dict[str, Any]]:
        """GeoReport service requests of masked public views (constant number of queries)."""
        origin = origin_of(request, self.settings.public_url)
        paths = await attachments.public_photo_links([v.id for v in views], datetime.now(UTC))
        photos = {report_id: origin + path for report_id, path in paths.items()}
        sent = await assignments.assignments_of_reports([(v.id, v.staff_view) for v in views])
        acting: list[list[AssignmentView]] = [
            [a for a in found if a.status not in _NOT_RESPONSIBLE] for found in sent
        ]
        every = [a.id for found in sent for a in found]
        follow_ups = dict(
            zip(every, await assignments.follow_ups_of_assignments(every), strict=True)
        )
        agencies = await reference.agencies({a.agency_id for found in acting for a in found})
        categories = await reference.categories(
            {v.category_id for v in views if v.category_id is not None}
        )
        regions = await reference.regions({v.region_id for v in views})
        presented = []
        for view, found, active in zip(views, sent, acting, strict=True):
            timezone = regions[view.region_id].timezone
            category = categories.get(view.category_id) if view.category_id else None
            answers = sorted(
                (f for a in found for f in follow_ups[a.id]), key=lambda f: (f.created_at, f.id)
            )
            names = [agencies[a.agency_id].name for a in active if a.agency_id in agencies]
            presented.append(
                {
                    "service_request_id": view.tracking_code,
                    "status": "closed" if view.status in FINAL_REPORT else "open",
                    "status_notes": answers[-1].message if answers else None,
                    "service_name": category.name if category else None,
                    "service_code": category.code if category else None,
                    "description": f"{view.title}\n\n{view.body}",
                    "agency_responsible": ", ".join(dict.fromkeys(names)) or None,
                    "service_notice": None,
                    "requested_datetime": _local(view.created_at, timezone),
                    "updated_datetime": _local(view.updated_at, timezone),
                    "expected_datetime": _local(view.due_at, timezone),
                    "address": view.address,
                    "address_id": None,
                    "zipcode": None,
                    "lat": view.latitude,
                    "long": view.longitude,
                    # Its first public photo; the link is signed and expires like every one.
                    "media_url": photos.get(view.id),
                }
            )
        return presented
