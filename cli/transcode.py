"""`cbrtl transcode ...`: store local files as titles, queue transcodes."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from cli.output import wait_for_job
from cli.session import session_maker, unit_of_work
from db.errors import NotFound
from db.models import User
from db.services import content as catalogue
from db.services import videos
from db.services.users import normalise_email
from db.settings import Settings
from db.storage import make_storage


@click.group("transcode")
def transcode_group() -> None:
    """Video transcodes (HLS ladder on the media queue)."""


@transcode_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, type=click.STRING)
@click.option("--description", default="")
@click.option("--genre", "genres", multiple=True, help="repeat for several")
@click.option("--owner", default=None, help="the owner's email (default: no owner)")
@click.option("--wait", is_flag=True, help="show progress until the transcode ends")
@click.pass_obj
def add(
    settings: Settings,
    file: Path,
    title: str,
    description: str,
    genres: tuple[str, ...],
    owner: str | None,
    wait: bool,
) -> None:
    """Store FILE as a new title and queue its transcode."""
    if not 1 <= len(title.strip()) <= 300:
        raise click.BadParameter("must be 1-300 characters", param_hint="--title")
    with unit_of_work(settings) as session:
        owner_id = None
        if owner:
            owner_id = session.scalar(select(User.id).where(User.email == normalise_email(owner)))
            if owner_id is None:
                raise NotFound(f"No user with the email {owner}.")
        item = catalogue.create_content(
            session=session,
            owner_id=owner_id,
            title=title.strip(),
            description=description,
            genres=genres,
        )
        job = videos.add_local_source(
            session=session, storage=make_storage(settings), content_id=item.id, path=file
        )
        content_id, job_id = item.id, job.id
    click.echo(f"content {content_id}: transcode job {job_id} queued")
    if wait:
        wait_for_job(session_maker(settings), job_id)


@transcode_group.command("enqueue")
@click.option("--content-id", type=click.IntRange(1), default=None)
@click.option("--all-pending", is_flag=True, help="every title with a source but no playable set")
@click.pass_obj
def enqueue(settings: Settings, content_id: int | None, all_pending: bool) -> None:
    """Queue a (re-)transcode of one title, or of every pending one."""
    if (content_id is None) == (not all_pending):
        raise click.UsageError("give exactly one of --content-id ID and --all-pending")
    with unit_of_work(settings) as session:
        targets = [content_id] if content_id is not None else videos.pending(session=session)
        queued = [
            (target, videos.queue_transcode(session=session, content_id=target).id)
            for target in targets
        ]
    for target, job_id in queued:
        click.echo(f"content {target}: transcode job {job_id} queued")
    if not queued:
        click.echo("nothing is pending")
