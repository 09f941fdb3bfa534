"""Schema hygiene: every type, field and argument is described, and no change breaks a schema
that was ever committed: fields are deprecated, never removed or retyped.

No database needed: the schema is built in process from the code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from graphql import build_schema, print_schema

from lapor.cli import main
from schema.hygiene import breaking_changes, missing_descriptions

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "schema" / "schema.graphql"


def _live_sdl() -> str:
    from schema.schema import schema

    return schema.as_str() + "\n"


def test_every_type_field_and_argument_is_described() -> None:
    from schema.schema import schema

    missing = missing_descriptions(schema._schema)
    assert not missing, "describe these in schema/ (what they are, for client authors):\n" + (
        "\n".join(missing)
    )


def _committed_snapshots() -> list[tuple[str, str]]:
    """(commit, text) of every committed version of schema/schema.graphql, newest first."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        print("no git history here: checking against the working-tree snapshot only")
        return []
    commits = subprocess.run(
        ["git", "log", "--format=%H", "--", "schema/schema.graphql"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        (
            commit[:10],
            subprocess.run(
                ["git", "show", f"{commit}:schema/schema.graphql"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout,
        )
        for commit in commits
    ]


def test_no_schema_ever_committed_is_broken_by_the_code() -> None:
    """Once a field was published, it stays (deprecated if need be) with a compatible type."""
    live = _live_sdl()
    baselines = [("working tree", SNAPSHOT.read_text(encoding="utf-8")), *_committed_snapshots()]
    broken = {name: changes for name, old in baselines if (changes := breaking_changes(old, live))}
    assert not broken, (
        "the code breaks published schemas (deprecate fields instead of removing them):\n"
        + "\n".join(f"{name}: {change}" for name, changes in broken.items() for change in changes)
    )


def _without(sdl: str, field: str) -> str:
    """The SDL without one field line (and its description line above it)."""
    changed, count = re.subn(
        rf'^(  """[^"\n]*"""\n)?  {re.escape(field)}\n', "", sdl, count=1, flags=re.M
    )
    assert count == 1, field
    return changed


def test_the_check_catches_a_removal_and_a_retyped_field_but_not_a_deprecation() -> None:
    published = print_schema(build_schema(_live_sdl()))
    removed = _without(published, "title: String!")
    assert breaking_changes(published, removed) == [
        "FIELD_REMOVED: Field Report.title was removed."
    ]
    retyped = published.replace("  supportCount: Int!\n", "  supportCount: String!\n", 1)
    assert breaking_changes(published, retyped) == [
        "FIELD_CHANGED_KIND: Field Report.supportCount changed type from Int! to String!."
    ]
    # Anchored at a line's start: an argument named title is indented further.
    deprecated = published.replace(
        "\n  title: String!\n", '\n  title: String! @deprecated(reason: "Use body.")\n', 1
    )
    assert breaking_changes(published, deprecated) == []


def test_export_schema_refuses_to_overwrite_a_schema_it_would_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A published schema with a field the code does not have: writing would remove it.
    out = tmp_path / "schema.graphql"
    published = _live_sdl().replace(
        "\n  title: String!\n", "\n  title: String!\n  legacy: Int\n", 1
    )
    out.write_text(published, encoding="utf-8")
    with pytest.raises(SystemExit) as refused:
        main(["export-schema", "--out", str(out)])
    assert refused.value.code == 2
    assert "FIELD_REMOVED: Field Report.legacy was removed." in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == published
    with pytest.raises(SystemExit) as written:
        main(["export-schema", "--out", str(out), "--allow-breaking"])
    assert written.value.code == 0
    assert out.read_text(encoding="utf-8") == _live_sdl()
