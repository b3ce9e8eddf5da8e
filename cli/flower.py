"""`cbrtl flower`: Celery's monitoring UI on CBRTL_FLOWER_PORT, or one line saying why not.

Flower that cannot bind dies with a traceback, and honcho then stops every other
process of `make run`; checking the port first turns that into one clear line. With
`--optional` (the Procfile's), a taken port leaves the platform running without its
monitoring UI: honcho stops everything when any process exits, so this one waits for
the signal that stops the others.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys

import click

from db.settings import Settings

ADDRESS = "127.0.0.1"


def port_in_use(address: str, port: int) -> str | None:
    """Why `port` cannot be bound, or None when it can (checked, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


@click.command(
    "flower", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option("--address", default=ADDRESS, show_default=True, help="Address to listen on.")
@click.option(
    "--optional",
    is_flag=True,
    help="When the port is taken, say so and wait to be stopped instead of exiting.",
)
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def flower_command(
    settings: Settings, address: str, optional: bool, flower_args: tuple[str, ...]
) -> None:
    """Start Flower (Celery's monitoring UI) on CBRTL_FLOWER_PORT (default 5555)."""
    port = settings.flower_port
    reason = port_in_use(address, port)
    if reason is not None:
        outcome = "running without Flower" if optional else "flower cannot start"
        click.echo(
            f"cbrtl: {outcome}: {address}:{port}: {reason} (set CBRTL_FLOWER_PORT to a free port)",
            err=True,
        )
        if not optional:
            sys.exit(1)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:  # until honcho (or Ctrl-C) stops the platform
            signal.pause()
    # The celery beside this interpreter (the venv's), else the one on PATH.
    celery = shutil.which("celery", path=os.path.dirname(sys.executable)) or shutil.which("celery")
    if celery is None:
        click.echo("cbrtl: flower cannot start: no celery command found", err=True)
        sys.exit(1)
    argv = [celery, "--app", "workers.celery_app", "flower", f"--address={address}"]
    os.execv(celery, [*argv, f"--port={port}", *flower_args])  # noqa: S606 (no shell: argv as is)
