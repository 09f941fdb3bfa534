"""The privacy crawl's machinery (tests/schema/test_privacy_crawl.py).

- Selections are generated from the schema: every field of every type reachable from a root
  field is selected (each type once along a path, connections a page of 100), so a field added
  tomorrow is crawled without anyone remembering it. A root field with a required argument the
  crawl does not know how to fill stops the crawl with its name (`Unfillable`).
- Every answer is walked: each string (and number) is searched for marker values, and each
  marker found is judged with the report it belongs to: the nearest object around it whose
  global id names a report, an assignment, a timeline line, a follow-up, a notification or a
  delivery of that report.
- Whether a marker may be seen is decided by the pure policy (domain/policy.py) on the facts
  of the report as the crawl ends: the crawl never restates the rules.
- Files: an Attachment's global id is a marker judged by `attachment_access` on its report's
  and its own facts; every signed link (`/files/<id>/<variant>?...`) in any answer is recorded
  for its viewer, judged alike (a link to a file the viewer may not see is a leak), and is
  fetched by the test (`Crawl.links`).
- What was crawled is counted per viewer and path, and printed as a matrix.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_non_null_type,
)

from domain.actor import PUBLIC, Actor
from domain.policy import (
    Action,
    AttachmentFacts,
    ReportFacts,
    allowed_on_report,
    attachment_access,
    is_staff,
)
from schema.ids import from_global_id
from schema.schema import schema as lapor_schema

SCHEMA: GraphQLSchema = lapor_schema._schema
# Arguments filled wherever a field has them: connections give a whole page.
EVERYWHERE = {"first": "100"}


class Unfillable(Exception):
    """A field needs an argument the crawl cannot make up: teach the crawl (ROOT_ARGUMENTS)."""


def _arguments(owner: str, name: str, definition: GraphQLField, given: dict[str, str]) -> str:
    parts = []
    for argument, spec in definition.args.items():
        if argument in given:
            parts.append(f"{argument}: {given[argument]}")
        elif argument in EVERYWHERE:
            parts.append(f"{argument}: {EVERYWHERE[argument]}")
        elif is_non_null_type(spec.type) and spec.default_value is None:
            raise Unfillable(f"{owner}.{name}({argument}:) is required: tell the crawl a value")
    return f"({', '.join(parts)})" if parts else ""


def selection(type_: GraphQLNamedType, path: tuple[str, ...] = (), alias: str = "") -> str:
    """Every field of `type_` and, beneath it, of every object type not already on `path`
    (with `alias`, each field of `type_` is asked as `<alias>_<field>`)."""
    if is_leaf_type(type_):
        return ""
    if is_abstract_type(type_):
        # Each type's fields under aliases of their own: two types may name a field alike
        # with different types (Report.kind, ReportEvent.kind), which may not be merged.
        possible = SCHEMA.get_possible_types(type_)  # type: ignore[arg-type]
        inline = [f"... on {t.name} {{ {selection(t, path, t.name)} }}" for t in possible]
        return " ".join(["__typename", *inline])
    assert isinstance(type_, GraphQLObjectType)
    chosen = []
    for name, definition in type_.fields.items():
        target = get_named_type(definition.type)
        arguments = _arguments(type_.name, name, definition, {})
        asked = f"{alias}_{name}: {name}" if alias else name
        if is_leaf_type(target):
            chosen.append(f"{asked}{arguments}")
        elif target.name not in path and target.name != type_.name:
            inner = selection(target, (*path, type_.name))
            chosen.append(f"{asked}{arguments} {{ {inner} }}")
    return " ".join(chosen)


def field_document(
    operation: str, root: GraphQLObjectType, name: str, variants: list[dict[str, str]]
) -> str:
    """One operation asking `root.name` once per set of arguments (aliased f0, f1, ...), the
    whole selection in a fragment said once."""
    definition = root.fields[name]
    target = get_named_type(definition.type)
    fragment = ""
    if not is_leaf_type(target):
        fragment = f"fragment All on {target.name} {{ {selection(target, (root.name,))} }}"
    asked = []
    for i, given in enumerate(variants):
        arguments = _arguments(root.name, name, definition, given)
        inner = " { ...All }" if fragment else ""
        asked.append(f"f{i}: {name}{arguments}{inner}")
    return f"{operation} {{ {' '.join(asked)} }} {fragment}"


def quoted(value: str) -> str:
    return json.dumps(value)


# ------------------------------------------------------------------------------- markers


@dataclass(frozen=True)
class Marker:
    """A value that must appear only where the policy allows: `kind` says which rule judges
    it, `report` the report it belongs to (a title, a place), `person` whom it names."""

    value: str | float
    kind: str
    report: int | None = None
    person: int | None = None

    def found_in(self, leaf: Any) -> bool:
        if isinstance(self.value, float):
            if isinstance(leaf, int | float) and not isinstance(leaf, bool):
                return math.isclose(float(leaf), self.value, abs_tol=1e-9)
            return isinstance(leaf, str) and repr(self.value) in leaf
        # Whole words only: kepala.dinkes@... does not name dinkes@...
        return isinstance(leaf, str) and self._pattern.search(leaf) is not None

    @property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(rf"(?<![\w.+-]){re.escape(str(self.value))}(?![\w-])")


REPORT_KINDS = ("title", "body", "address", "latitude", "longitude")
# A signed link to a file, wherever it stands: its file's database id is group 1.
FILE_LINK = re.compile(r"/files/(\d+)/(?:original|thumbnail)\?[\w=&%.-]+")
PLACE_KINDS = ("address", "latitude", "longitude")


@dataclass(frozen=True)
class Viewer:
    """Someone the crawl reads as: a row of the matrix."""

    name: str
    actor: Actor = PUBLIC


@dataclass
class Judge:
    """Decides, from the pure policy and the reports' facts as the crawl ends, whether a viewer
    may see a marker where it was found (`context`: the report around it, if any)."""

    facts: dict[int, ReportFacts]
    markers: list[Marker]
    # Each file by its database id: its report, and the policy's facts of it.
    files: dict[int, tuple[int, AttachmentFacts]] = field(default_factory=dict)

    def allowed(self, viewer: Viewer, marker: Marker, context: int | None) -> bool:
        actor = viewer.actor
        oneself = marker.person is not None and actor.user_id == marker.person
        if marker.kind == "file":
            decoded = from_global_id(str(marker.value))
            assert decoded is not None and decoded[0] == "Attachment", marker
            return self.sees_file(actor, decoded[1])
        if marker.kind in ("title", "body"):
            assert marker.report is not None
            return allowed_on_report(actor, Action.READ, self.facts[marker.report])
        if marker.kind in PLACE_KINDS:
            assert marker.report is not None
            return allowed_on_report(actor, Action.SEE_REPORTER, self.facts[marker.report])
        if marker.kind == "reporter name":
            return oneself or (context is not None and self._sees_reporter(actor, context))
        if marker.kind == "reporter e-mail":
            return oneself or (
                actor.is_superadmin and context is not None and self._sees_reporter(actor, context)
            )
        if marker.kind == "reporter phone":
            return oneself
        if marker.kind == "staff name":
            return oneself or is_staff(actor)
        if marker.kind == "staff e-mail":
            return oneself or actor.is_superadmin
        raise AssertionError(f"no rule for {marker.kind}")

    def sees_file(self, actor: Actor, attachment_id: int) -> bool:
        """Whether the policy lets `actor` see this file (a link to it is the file)."""
        report, file = self.files[attachment_id]
        return attachment_access(actor, self.facts[report], file) is not None

    def _sees_reporter(self, actor: Actor, report: int) -> bool:
        return allowed_on_report(actor, Action.SEE_REPORTER, self.facts[report])


# --------------------------------------------------------------------------------- walking


@dataclass(frozen=True)
class Sighting:
    """A marker seen by a viewer on a path, at a place in the answer."""

    viewer: str
    path: str
    where: str
    marker: Marker
    context: int | None


@dataclass
class Crawl:
    """What the crawl read: values checked per (viewer, path), markers seen, leaks found."""

    judge: Judge
    reports_of: dict[str, int | None]  # global id -> the report it belongs to
    checked: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    seen: list[Sighting] = field(default_factory=list)
    leaks: list[Sighting] = field(default_factory=list)
    # The signed links each viewer was given, anywhere: the test fetches every one.
    links: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def read(self, viewer: Viewer, path: str, answer: Any, context: int | None = None) -> None:
        """Walk an answer that `viewer` got on `path`, judging every marker in it."""
        self.checked[(viewer.name, path)] += 0
        for where, leaf, around in _leaves(answer, self.reports_of, context, "$"):
            self.checked[(viewer.name, path)] += 1
            for marker in self.judge.markers:
                if marker.found_in(leaf):
                    sighting = Sighting(viewer.name, path, where, marker, around)
                    self.seen.append(sighting)
                    if not self.judge.allowed(viewer, marker, around):
                        self.leaks.append(sighting)
            if isinstance(leaf, str):
                self._judge_links(viewer, path, where, leaf, around)

    def _judge_links(
        self, viewer: Viewer, path: str, where: str, leaf: str, around: int | None
    ) -> None:
        for found in FILE_LINK.finditer(leaf):
            self.links[viewer.name].add(found[0])
            attachment_id = int(found[1])
            if not self.judge.sees_file(viewer.actor, attachment_id):
                report = self.judge.files[attachment_id][0]
                link = Marker(found[0], "file link", report=report)
                self.leaks.append(Sighting(viewer.name, path, where, link, around))

    def seen_by(self, viewer: str, paths: Iterable[str] | None = None) -> set[Marker]:
        wanted = set(paths) if paths is not None else None
        return {
            s.marker
            for s in self.seen
            if s.viewer == viewer and (wanted is None or s.path in wanted)
        }

    def matrix(self, viewers: list[str], paths: list[str]) -> str:
        """Rows: viewers; columns: paths; cells: the values checked ("·": none came back)."""
        width = max(len(v) for v in viewers)
        columns = [(p, max(len(p), 5)) for p in paths]
        header = " " * width + " | " + " | ".join(p.rjust(w) for p, w in columns)
        lines = [header, "-" * len(header)]
        for viewer in viewers:
            cells = []
            for path, w in columns:
                count = self.checked.get((viewer, path))
                cells.append(("·" if not count else str(count)).rjust(w))
            lines.append(viewer.ljust(width) + " | " + " | ".join(cells))
        return "\n".join(lines)


def _leaves(
    value: Any, reports_of: dict[str, int | None], context: int | None, where: str
) -> Iterator[tuple[str, Any, int | None]]:
    """(place, leaf, report around it) of every string and number in an answer."""
    if isinstance(value, dict):
        # The object's id, asked as `id` (or `<Type>_id` under an abstract type).
        for key, own in value.items():
            is_id = key == "id" or key.endswith("_id")
            if is_id and isinstance(own, str) and reports_of.get(own) is not None:
                context = reports_of[own]
        for key, inner in value.items():
            yield from _leaves(inner, reports_of, context, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _leaves(inner, reports_of, context, f"{where}[{i}]")
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield where, value, context


def type_of(global_id: str) -> str | None:
    decoded = from_global_id(global_id)
    return decoded[0] if decoded else None
