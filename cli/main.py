"""The `cbrtl` command line. Each command owns its unit of work (one commit)."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from cli.demo import demo_group
from cli.evaluate import eval_command
from cli.flower import flower_command
from cli.health import health_group
from cli.imports import import_group
from cli.jobs import jobs_group, retrain
from cli.schedules import schedules_group
from cli.session import unit_of_work
from cli.transcode import transcode_group
from db.errors import DomainError
from db.log_setup import configure_logging
from db.migrate import upgrade
from db.models import ROLES
from db.services import users
from db.settings import Settings, load_settings_or_exit


class CbrtlGroup(click.Group):
    """Domain and database errors end as one line on stderr, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DomainError as error:
            reasons = "; ".join(f"{field} {why}" for field, why in error.details.items())
            click.echo(f"cbrtl: {error.message}" + (f" ({reasons})" if reasons else ""), err=True)
            sys.exit(1)
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            click.echo(f"cbrtl: database error: {reason}", err=True)
            sys.exit(1)


@click.group(cls=CbrtlGroup)
@click.version_option(package_name="cbrtl", prog_name="cbrtl")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """cbrtl: upload, watch, rate, recommend."""
    ctx.obj = load_settings_or_exit()
    # What people read is plain text on stdout/stderr; only warnings are log lines.
    configure_logging(ctx.obj, level="WARNING")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply every migration up to the newest."""
    upgrade(settings.resolved_database_url)
    click.echo("database is up to date")


@cli.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--display-name", default=None, help="defaults to the part of the email before @")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES[1:]))
@click.pass_obj
def users_create(
    settings: Settings, email: str, password: str, display_name: str | None, roles: tuple[str, ...]
) -> None:
    """Create an account (the first admin, creators, operators)."""
    with unit_of_work(settings) as session:
        user = users.create_user(
            session=session,
            email=email,
            password=password,
            display_name=display_name or email.split("@")[0],
            roles=roles,
        )
        click.echo(f"created user {user.id} <{user.email}> roles={','.join(user.roles)}")


cli.add_command(jobs_group)
cli.add_command(retrain)
cli.add_command(schedules_group)
cli.add_command(eval_command)
cli.add_command(import_group)
cli.add_command(demo_group)
cli.add_command(health_group)
cli.add_command(transcode_group)
cli.add_command(flower_command)


def main() -> None:
    cli(prog_name="cbrtl")


if __name__ == "__main__":
    main()
