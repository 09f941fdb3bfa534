"""Transparency over plain HTTP (issue 16): the public page `/transparansi` in Bahasa
Indonesia, a chart per indicator drawn as inline SVG on the server (no script, no asset, no
internet), and CSV downloads of the tables `agencyPerformance` and `regionPerformance` serve.

Everything here is public and reads the same use cases as GraphQL: counts, never a report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from api.transparency_page import PageData, render_page
from core.bounds import PARAMETER_MAX_LENGTH, text_problem
from core.settings import Settings
from domain.errors import DomainError
from domain.services import reference, transparency
from domain.transparency import Figure, Figures, Period
from schema.ids import to_global_id

BASE = "/transparansi"
# The default period is the current month in Western Indonesian Time, where most people live.
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")


class BadParameter(Exception):
    """A query parameter that names nothing: 400 with a sentence saying what was wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ----------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class Column:
    """One CSV column: its stable header and how it reads a row's figures."""

    header: str
    read: Callable[[Figures], object]


def _indicator(name: str, pick: Callable[[Figures], Figure]) -> list[Column]:
    return [
        Column(name, lambda f: pick(f).value),
        Column(f"{name}_sample", lambda f: pick(f).sample),
        Column(f"{name}_rankable", lambda f: pick(f).rankable),
    ]


# The figures' columns, the same in both files and in this order for good (README,
# "Transparency"); a withheld value is an empty cell.
FIGURE_COLUMNS: tuple[Column, ...] = (
    Column("received", lambda f: f.received),
    Column("withheld", lambda f: f.withheld),
    Column("verified", lambda f: f.verified),
    Column("answered", lambda f: f.answered),
    *_indicator("answered_on_time_share", lambda f: f.answered_on_time),
    *_indicator("first_response_median_days", lambda f: f.first_response_median),
    *_indicator("first_response_p90_days", lambda f: f.first_response_p90),
    *_indicator("resolution_median_days", lambda f: f.resolution_median),
    *_indicator("resolution_p90_days", lambda f: f.resolution_p90),
    Column("returned", lambda f: f.returned),
    *_indicator("held_median_days", lambda f: f.held_median),
    Column("handed_over", lambda f: f.handed_over),
    Column("disputed", lambda f: f.disputed),
    Column("reopenings", lambda f: f.reopenings),
    *_indicator("rating_average", lambda f: f.rating_average),
)
AGENCY_HEADERS = ("period", "agency_id", "agency_code", "agency_name", "region_code")
REGION_HEADERS = ("period", "region_id", "region_code", "region_name")


# What a spreadsheet reads as the start of a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as a CSV cell. Text that a spreadsheet would run as a formula (a name beginning
    with `=`, `+`, `-`, `@`, a tab or a carriage return) is kept as text by a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def _csv(headers: Sequence[str], rows: Sequence[tuple[Sequence[object], Figures]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*headers, *(c.header for c in FIGURE_COLUMNS)])
    for leading, f in rows:
        writer.writerow(
            [*(csv_cell(v) for v in leading), *(csv_cell(c.read(f)) for c in FIGURE_COLUMNS)]
        )
    return out.getvalue()


def _download(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "public, max-age=60",
        },
    )


# ----------------------------------------------------------------------------- routes


class Transparency:
    """The page and its downloads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def routes(self) -> list[BaseRoute]:
        return [
            Route(BASE, self._wrap(self.page), methods=["GET"]),
            Route(f"{BASE}/instansi.csv", self._wrap(self.agencies_csv), methods=["GET"]),
            Route(f"{BASE}/wilayah.csv", self._wrap(self.regions_csv), methods=["GET"]),
        ]

    def _wrap(self, handler: Callable[[Request], object]) -> Callable[[Request], object]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)  # type: ignore[misc, no-any-return]
            except BadParameter as e:
                return Response(e.message, status_code=e.status, media_type="text/plain")
            except DomainError as e:
                return Response(e.message, status_code=400, media_type="text/plain")

        return endpoint

    @staticmethod
    def _param(request: Request, name: str) -> str | None:
        raw = request.query_params.get(name)
        if raw is None or raw.strip() == "":
            return None
        problem = text_problem(raw, PARAMETER_MAX_LENGTH)
        if problem is not None:
            raise BadParameter(400, f"{name} {problem}")
        return raw.strip()

    def _period(self, request: Request) -> Period:
        raw = self._param(request, "periode")
        if raw is None:
            raw = datetime.now(DEFAULT_ZONE).strftime("%Y-%m")
        try:
            return transparency.period_of(raw)
        except DomainError:
            raise BadParameter(
                400, 'periode: sebuah bulan "2026-03" atau triwulan "2026-Q1" (tahun 2000-2100)'
            ) from None

    async def _region(self, request: Request) -> int | None:
        code = self._param(request, "wilayah")
        if code is None:
            return None
        found = await reference.region_by_code(code)
        if found is None:
            raise BadParameter(404, f"wilayah {code!r} tidak ditemukan")
        return found.id

    async def agencies_csv(self, request: Request) -> Response:
        period = self._period(request)
        region_id = await self._region(request)
        found = await transparency.agency_performance(period, region_id)
        agencies = await reference.agencies([s.scope_id for s in found if s.scope_id])
        regions = await reference.regions([a.region_id for a in agencies.values() if a.region_id])
        rows = []
        for s in found:
            a = agencies[s.scope_id] if s.scope_id else None
            if a is None:
                continue
            region = regions.get(a.region_id) if a.region_id else None
            leading = [
                period.label,
                to_global_id("Agency", a.id),
                a.code,
                a.name,
                region.code if region else "",
            ]
            rows.append((leading, s.figures))
        name = f"instansi-{period.label}.csv"
        return _download(_csv(AGENCY_HEADERS, rows), name)

    async def regions_csv(self, request: Request) -> Response:
        period = self._period(request)
        table = await transparency.region_performance(period)
        regions = await reference.regions([s.scope_id for s in table.regions if s.scope_id])
        rows: list[tuple[Sequence[object], Figures]] = [
            ([period.label, "", "", "Nasional"], table.national)
        ]
        for s in table.regions:
            r = regions.get(s.scope_id) if s.scope_id else None
            if r is not None:
                rows.append(
                    ([period.label, to_global_id("Region", r.id), r.code, r.name], s.figures)
                )
        return _download(_csv(REGION_HEADERS, rows), f"wilayah-{period.label}.csv")

    async def page(self, request: Request) -> Response:
        period = self._period(request)
        table = await transparency.region_performance(period)
        region_id = await self._region(request)
        if region_id is None:  # the regency or city with the most reports in the period
            busiest = max(table.regions, key=lambda s: s.figures.received, default=None)
            region_id = busiest.scope_id if busiest else None
        agencies = await transparency.agency_performance(period, region_id) if region_id else []
        all_regions = await reference.all_regions()
        names = {a.id: a.name for a in await reference.agencies_in(region_id)} if region_id else {}
        rules = transparency.fairness_rules()
        data = PageData(
            period=period,
            national=table.national,
            regions=[
                (r.name, s.figures)
                for s in table.regions
                for r in all_regions
                if r.id == s.scope_id
            ],
            region_choices=[
                (r.code, r.name, r.id == region_id)
                for r in all_regions
                if any(s.scope_id == r.id for s in table.regions)
            ],
            region_code=next((r.code for r in all_regions if r.id == region_id), None),
            region_name=next((r.name for r in all_regions if r.id == region_id), None),
            agencies=[(names.get(s.scope_id or 0, "?"), s.figures) for s in agencies],
            min_sample=rules.min_sample,
            small_cell=rules.small_cell,
        )
        return HTMLResponse(
            render_page(data),
            headers={
                "Cache-Control": "public, max-age=60",
                # Nothing to load from anywhere: inline styles and SVG only.
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data:; form-action 'self'",
            },
        )
