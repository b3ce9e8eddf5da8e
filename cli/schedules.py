"""`cbrtl schedules ...`: operators' recurring jobs."""

from __future__ import annotations

import click

from cli.output import table
from cli.session import unit_of_work
from db.services import schedules
from db.settings import Settings


@click.group("schedules")
def schedules_group() -> None:
    """Recurring jobs (five-field cron, UTC)."""


@schedules_group.command("list")
@click.pass_obj
def list_schedules(settings: Settings) -> None:
    with unit_of_work(settings) as session:
        rows = [
            (
                s.id,
                s.name,
                s.job_type,
                s.cron,
                "yes" if s.enabled else "no",
                s.last_run_at,
                s.next_run_at,
            )
            for s in schedules.list_all(session=session)
        ]
    table("schedules", ("id", "name", "job type", "cron", "enabled", "last run", "next run"), rows)


@schedules_group.command("add")
@click.argument("name")
@click.option("--job-type", default="recommender.retrain", show_default=True)
@click.option("--cron", required=True, help='five fields, e.g. "0 3 * * *"')
@click.pass_obj
def add(settings: Settings, name: str, job_type: str, cron: str) -> None:
    with unit_of_work(settings) as session:
        schedule = schedules.create(session=session, name=name, job_type=job_type, cron=cron)
        click.echo(
            f"schedule {schedule.id} {name!r}: next run {schedule.next_run_at:%Y-%m-%d %H:%M} UTC"
        )


@schedules_group.command("remove")
@click.argument("schedule_id", type=int)
@click.pass_obj
def remove(settings: Settings, schedule_id: int) -> None:
    with unit_of_work(settings) as session:
        schedules.delete(session=session, schedule_id=schedule_id)
    click.echo(f"schedule {schedule_id} removed")


def _set_enabled(settings: Settings, schedule_id: int, enabled: bool) -> None:
    with unit_of_work(settings) as session:
        schedule = schedules.update(
            session=session, schedule_id=schedule_id, changes={"enabled": enabled}
        )
        click.echo(f"schedule {schedule.id} {'enabled' if enabled else 'disabled'}")


@schedules_group.command("enable")
@click.argument("schedule_id", type=int)
@click.pass_obj
def enable(settings: Settings, schedule_id: int) -> None:
    _set_enabled(settings, schedule_id, True)


@schedules_group.command("disable")
@click.argument("schedule_id", type=int)
@click.pass_obj
def disable(settings: Settings, schedule_id: int) -> None:
    _set_enabled(settings, schedule_id, False)
