"""`cbrtl jobs ...` and `cbrtl retrain`."""

from __future__ import annotations

import json

import click

from cli.output import table, wait_for_job
from cli.session import session_maker, unit_of_work
from db.models import JOB_STATUSES
from db.services import jobs
from db.settings import Settings


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs."""


@jobs_group.command("list")
@click.option("--type", "type_", default=None)
@click.option("--status", type=click.Choice(JOB_STATUSES), default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def list_jobs(settings: Settings, type_: str | None, status: str | None, limit: int) -> None:
    with unit_of_work(settings) as session:
        items, total = jobs.list_jobs(
            session=session, page=1, per_page=limit, type=type_, status=status
        )
        rows = [
            (j.id, j.type, j.status, f"{j.progress:.0%}", j.attempts, j.created_at, j.error)
            for j in items
        ]
    table(
        f"jobs ({total} in all)",
        ("id", "type", "status", "progress", "tries", "created", "error"),
        rows,
    )


@jobs_group.command("show")
@click.argument("job_id", type=int)
@click.pass_obj
def show(settings: Settings, job_id: int) -> None:
    with unit_of_work(settings) as session:
        job = jobs.get_job(session=session, job_id=job_id)
        doc = {
            "id": job.id,
            "type": job.type,
            "status": job.status,
            "progress": job.progress,
            "attempts": job.attempts,
            "error": job.error,
            "args": job.args,
            "result": job.result,
            "created_at": str(job.created_at),
            "started_at": str(job.started_at),
            "finished_at": str(job.finished_at),
        }
    click.echo(json.dumps(doc, indent=2))


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@click.pass_obj
def retry(settings: Settings, job_id: int) -> None:
    with unit_of_work(settings) as session:
        jobs.retry(session=session, job_id=job_id)
    click.echo(f"job {job_id} queued again")


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@click.pass_obj
def cancel(settings: Settings, job_id: int) -> None:
    """Stop a queued or running job (a running one stops at its next progress report)."""
    with unit_of_work(settings) as session:
        jobs.cancel(session=session, job_id=job_id)
    click.echo(f"job {job_id} cancelled")


@click.command("retrain")
@click.option("--algorithm", type=click.Choice(["auto", "ease", "svd"]), default="auto")
@click.option("--force", is_flag=True, help="activate the new versions even if they score worse")
@click.option("--wait", is_flag=True, help="show progress until the job ends")
@click.pass_obj
def retrain(settings: Settings, algorithm: str, force: bool, wait: bool) -> None:
    """Queue a retrain of the recommender on the ml queue."""
    with unit_of_work(settings) as session:
        job = jobs.enqueue(
            session=session,
            type="recommender.retrain",
            args={"algorithm": algorithm, "params": {}, "force": force},
            max_attempts=2,
        )
        job_id = job.id
    click.echo(f"job {job_id} queued")
    if wait:
        done = wait_for_job(session_maker(settings), job_id)
        click.echo(json.dumps(done.result, indent=2))
