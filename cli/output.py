"""Tables and job progress on the terminal (rich)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from db.models import Job
from db.services import jobs

console = Console()


def row_progress(label: str) -> Progress:
    """A bar for rows written, on a terminal only: transient, it gives way to the
    caller's summary line; logs and pipes get only the summary."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    out = Table(title=title)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    console.print(out)


def wait_for_job(
    new_session: Callable[[], Session], job_id: int, *, poll_s: float = 0.5, timeout_s: float = 3600
) -> Job:
    """Show the job's progress until it ends; exit non-zero unless it succeeded."""
    deadline = time.monotonic() + timeout_s
    with Progress(
        TextColumn("job {task.fields[job_id]} {task.fields[status]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("job", total=1.0, job_id=job_id, status="queued")
        while True:
            with new_session() as session:
                job = jobs.get_job(session=session, job_id=job_id)
            bar.update(task, completed=job.progress, status=job.status)
            if job.status in jobs.FINISHED:
                break
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"job {job_id} still {job.status} after {timeout_s:.0f} s"
                )
            time.sleep(poll_s)  # polling the job row is the point here
    if job.status != "succeeded":
        raise click.ClickException(f"job {job_id} {job.status}: {job.error}")
    return job
