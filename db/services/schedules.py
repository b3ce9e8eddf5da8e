"""Operators' recurring jobs: five-field cron in UTC, fired once per slot. Callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import Conflict, InvalidInput, NotFound
from db.job_types import JOB_TYPES
from db.models import Schedule, ScheduleRun
from db.models.base import utcnow
from db.services import jobs


def next_after(cron: str, moment: datetime) -> datetime:
    value: datetime = croniter(cron, moment).get_next(datetime)
    return value


def validate_cron(cron: str) -> str:
    cron = " ".join(cron.split())
    if len(cron.split(" ")) != 5 or not croniter.is_valid(cron):
        raise InvalidInput(
            "The cron expression is not valid.",
            details={"cron": "must be five fields: minute hour day-of-month month day-of-week"},
        )
    return cron


def _validate_job_type(job_type: str) -> str:
    if job_type not in JOB_TYPES:
        raise InvalidInput(
            f"Unknown job type {job_type!r}.",
            details={"job_type": f"one of {', '.join(sorted(JOB_TYPES))}"},
        )
    return job_type


def get(*, session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"No schedule {schedule_id}.")
    return schedule


def list_all(*, session: Session) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.id)))


def create(
    *,
    session: Session,
    name: str,
    job_type: str,
    cron: str,
    args: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Schedule:
    cron = validate_cron(cron)
    _validate_job_type(job_type)
    if session.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
        raise Conflict(f"A schedule named {name!r} exists.", details={"name": "taken"})
    schedule = Schedule(
        name=name,
        job_type=job_type,
        cron=cron,
        args=args or {},
        enabled=enabled,
        next_run_at=next_after(cron, utcnow()) if enabled else None,
    )
    session.add(schedule)
    session.flush()
    return schedule


def update(*, session: Session, schedule_id: int, changes: dict[str, Any]) -> Schedule:
    schedule = get(session=session, schedule_id=schedule_id)
    if "cron" in changes:
        schedule.cron = validate_cron(changes["cron"])
    if "job_type" in changes:
        schedule.job_type = _validate_job_type(changes["job_type"])
    if "name" in changes and changes["name"] != schedule.name:
        if session.scalar(select(Schedule.id).where(Schedule.name == changes["name"])):
            raise Conflict(
                f"A schedule named {changes['name']!r} exists.", details={"name": "taken"}
            )
        schedule.name = changes["name"]
    if "args" in changes:
        schedule.args = changes["args"]
    if "enabled" in changes:
        schedule.enabled = changes["enabled"]
    schedule.next_run_at = next_after(schedule.cron, utcnow()) if schedule.enabled else None
    session.flush()
    return schedule


def delete(*, session: Session, schedule_id: int) -> None:
    session.delete(get(session=session, schedule_id=schedule_id))
    session.flush()


def fire_due(*, session: Session, now: datetime) -> list[int]:
    """Enqueue a job for every schedule whose slot has come; return the job ids.

    The (schedule, slot) primary key of schedule_runs is the guard: when two beat
    processes tick at once, one insert wins and the other skips the slot.
    """
    due = session.scalars(
        select(Schedule)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at)
        .with_for_update(skip_locked=True)
    ).all()
    fired: list[int] = []
    for schedule in due:
        slot = schedule.next_run_at
        assert slot is not None
        run = ScheduleRun(schedule_id=schedule.id, slot=slot)
        try:
            with session.begin_nested():
                session.add(run)
        except IntegrityError:
            continue  # another beat fired this slot
        job = jobs.enqueue(
            session=session,
            type=schedule.job_type,
            args={**schedule.args, "schedule_id": schedule.id},
            dedup_key=f"schedule:{schedule.id}",
        )
        run.job_id = job.id
        schedule.last_run_at = slot
        schedule.next_run_at = next_after(schedule.cron, now)
        fired.append(job.id)
    return fired
