"""How alike two reports are (issue 15, docs/adr/0028): a score made of parts a coordinator
can read. The database gives the text part (domain/services/search.py); the place, category
and time parts are computed here from the views the viewer was given, so a part never uses
what the viewer may not see (an anonymous report's coordinates, say)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

# Each part is in [0, 1]; a part that cannot be known (no coordinates, no category) counts 0.
TEXT_WEIGHT = 0.6
PLACE_WEIGHT = 0.2
CATEGORY_WEIGHT = 0.1
TIME_WEIGHT = 0.1
# The place part halves at this distance, the time part at this many days apart.
PLACE_HALF_KM = 1.0
TIME_HALF_DAYS = 30.0
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Probe:
    """What candidates are compared with: a report, or what a citizen is about to send."""

    latitude: float | None
    longitude: float | None
    category_id: int | None
    at: datetime


@dataclass(frozen=True)
class Likeness:
    """A candidate's score and its parts, each in [0, 1] (None where it cannot be known)."""

    score: float
    text: float
    words: tuple[str, ...]
    place: float | None
    distance_km: float | None
    category: float | None
    time: float
    days_apart: float


def likeness(
    probe: Probe,
    text: float,
    words: tuple[str, ...],
    latitude: float | None,
    longitude: float | None,
    category_id: int | None,
    created_at: datetime,
) -> Likeness:
    """The likeness of a candidate with this text part and these (as seen) place, category
    and time to `probe`."""
    distance = None
    if None not in (probe.latitude, probe.longitude, latitude, longitude):
        distance = distance_km(probe.latitude, probe.longitude, latitude, longitude)  # type: ignore[arg-type]
    place = None if distance is None else PLACE_HALF_KM / (PLACE_HALF_KM + distance)
    category = None
    if probe.category_id is not None and category_id is not None:
        category = 1.0 if probe.category_id == category_id else 0.0
    days = abs((created_at - probe.at).total_seconds()) / 86400
    time = TIME_HALF_DAYS / (TIME_HALF_DAYS + days)
    score = (
        TEXT_WEIGHT * text
        + PLACE_WEIGHT * (place or 0.0)
        + CATEGORY_WEIGHT * (category or 0.0)
        + TIME_WEIGHT * time
    )
    return Likeness(
        score=round(score, 4),
        text=round(text, 4),
        words=words,
        place=None if place is None else round(place, 4),
        distance_km=None if distance is None else round(distance, 3),
        category=category,
        time=round(time, 4),
        days_apart=round(days, 2),
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two WGS84 points (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
