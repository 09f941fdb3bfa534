"""The deadline sweep's rules (pure): which steps each deadline takes, and when.

A deadline belongs to a stage of a row: the coordinator's VERIFY stage and the reporter's
window on a report, the agency's FIRST_RESPONSE and RESOLUTION stages on an assignment.
Each stage takes its steps (levels) in order, each at a time counted in working days of
the report's region from the deadline; a step is taken once per (row, stage, deadline, level).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.calendar import WorkingCalendar
from domain.deadlines import DeadlineRules, Stage


class Level(StrEnum):
    REMINDER = "reminder"
    BREACH = "breach"
    HANDOVER = "handover"
    ESCALATION = "escalation"
    CLOSE = "close"


@dataclass(frozen=True)
class Step:
    """One step of a stage: `level`, `offset` working days from the deadline (0: at it)."""

    level: Level
    offset: int


def _steps(escalation_after: int) -> dict[Stage, tuple[Step, ...]]:
    desk = (
        Step(Level.REMINDER, -1),
        Step(Level.BREACH, 0),
        Step(Level.ESCALATION, escalation_after),
    )
    return {
        Stage.VERIFY: desk,
        Stage.FIRST_RESPONSE: desk,
        # The hand-over follows the breach of a resolution deadline (if the reporter consented).
        Stage.RESOLUTION: (*desk[:2], Step(Level.HANDOVER, 0), desk[2]),
        Stage.REPORTER_WINDOW: (Step(Level.REMINDER, -1), Step(Level.CLOSE, 0)),
        # The agencies' deadlines are swept on their assignments, not on the report.
        Stage.AGENCIES: (),
    }


def steps_of(stage: Stage, rules: DeadlineRules) -> tuple[Step, ...]:
    """The steps a deadline of `stage` takes, in order."""
    return _steps(rules.escalation_after_days)[stage]


def step_time(due_at: datetime, step: Step, cal: WorkingCalendar) -> datetime:
    """When a step falls: the deadline itself, or whole working days before or after it.

    Reminders fall at the end of the working day before the deadline's day, so a reporter or
    desk is told a full working day ahead; escalations at the end of the n-th working day after."""
    if step.offset == 0:
        return due_at
    if step.offset < 0:
        return cal.subtract_working_days(due_at, -step.offset)
    return cal.add_working_days(due_at, step.offset)


def first_sweep_at(
    due_at: datetime | None, stage: Stage | None, cal: WorkingCalendar, rules: DeadlineRules
) -> datetime | None:
    """When the sweep must first look at a fresh deadline: the time of its first step (None
    when the stage takes no steps)."""
    steps = steps_of(stage, rules) if stage is not None else ()
    if due_at is None or not steps:
        return None
    return step_time(due_at, steps[0], cal)


def due_steps(
    due_at: datetime, stage: Stage, now: datetime, cal: WorkingCalendar, rules: DeadlineRules
) -> tuple[list[Step], datetime | None]:
    """The steps whose time has come by `now`, in order, and when the next one falls (None
    when none is left)."""
    reached: list[Step] = []
    for step in steps_of(stage, rules):
        at = step_time(due_at, step, cal)
        if at > now:
            return reached, at
        reached.append(step)
    return reached, None


def is_stale_reminder(step: Step, due_at: datetime, now: datetime) -> bool:
    """A reminder that comes after its deadline has passed says nothing: it is skipped."""
    return step.level is Level.REMINDER and now > due_at
