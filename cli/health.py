"""`cbrtl health`: exit-code checks for container and pod health probes."""

from __future__ import annotations

import sys

import click
import redis

from db.cache import make_cache
from db.models.base import utcnow
from db.services.operations import beat_state
from db.settings import Settings


@click.group("health")
def health_group() -> None:
    """Health checks for probes: exit 0 when healthy, 1 with the reason otherwise."""


@health_group.command("beat")
@click.option(
    "--max-age",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Seconds since beat's last tick beyond which it counts as stuck.",
)
@click.pass_obj
def beat(settings: Settings, max_age: int) -> None:
    """Beat is alive: its heartbeat in Redis is younger than --max-age (exit 0 also when
    Redis cannot be asked: unknown is not a failure)."""
    cache = make_cache(settings)
    if cache is None:
        click.echo("cbrtl: beat's heartbeat lives in Redis: set CBRTL_REDIS_URL", err=True)
        sys.exit(1)
    try:
        state = beat_state(cache=cache, now=utcnow())
    except redis.RedisError as error:
        # Unknown is not unhealthy: a Redis outage must not restart a working beat.
        click.echo(f"cbrtl: Redis is unreachable, beat's health is unknown: {error}", err=True)
        return
    if state.age_s is None:
        click.echo("cbrtl: beat has not ticked yet (no heartbeat in Redis)", err=True)
        sys.exit(1)
    if state.age_s > max_age:
        click.echo(f"cbrtl: beat last ticked {state.age_s:.0f} s ago (limit {max_age} s)", err=True)
        sys.exit(1)
    click.echo(f"beat ticked {state.age_s:.0f} s ago")
