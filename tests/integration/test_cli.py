"""The `cbrtl` command as a real process: one line on errors, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import User
from tests.factories import PASSWORD
from tests.services import VENV_BIN, cbrtl


def test_users_create_on_postgresql(pg_url: str, pg_engine, tmp_path) -> None:
    env = {"CBRTL_DATABASE_URL": pg_url, "CBRTL_DATA_DIR": str(tmp_path)}
    email = "cli-admin@example.org"
    done = cbrtl(
        "users", "create", "--email", email, "--password", PASSWORD, "--role", "admin", **env
    )
    try:
        assert done.returncode == 0, done.stderr
        with Session(pg_engine) as session:
            user = session.scalar(select(User).where(User.email == email))
            assert user is not None and user.roles == ["user", "admin"]

        again = cbrtl("users", "create", "--email", email.upper(), "--password", PASSWORD, **env)
        assert again.returncode == 1
        assert again.stderr.strip() == (
            "cbrtl: An account with this email already exists. (email taken)"
        )

        weak = cbrtl("users", "create", "--email", "w@example.org", "--password", "x" * 12, **env)
        assert weak.returncode == 1
        assert weak.stderr.strip() == (
            "cbrtl: The password is too weak. (password must use at least 5 different characters)"
        )
    finally:
        with Session(pg_engine) as session:
            session.query(User).filter(User.email == email).delete()
            session.commit()


def test_bad_configuration_is_one_line(tmp_path) -> None:
    done = cbrtl("db", "upgrade", CBRTL_DATABASE_URL="mysql://x", CBRTL_DATA_DIR=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cbrtl: configuration error: CBRTL_DATABASE_URL: must be a sqlite:// or postgresql:// URL"
    ]


def test_unreachable_database_is_one_line(tmp_path) -> None:
    done = cbrtl(
        "users",
        "create",
        "--email",
        "a@example.org",
        "--password",
        PASSWORD,
        CBRTL_DATABASE_URL="postgresql+psycopg2://postgres@127.0.0.1:1/none",
        CBRTL_DATA_DIR=str(tmp_path),
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("cbrtl: database error:")


def test_db_upgrade_on_sqlite(tmp_path) -> None:
    done = cbrtl("db", "upgrade", CBRTL_DATA_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cbrtl.db").exists()


def test_module_entry_point_has_every_command(tmp_path) -> None:
    """`python -m cli.main` is the same command line as the `cbrtl` script."""
    script = cbrtl("--help", CBRTL_DATA_DIR=str(tmp_path))
    module = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CBRTL_DATA_DIR": str(tmp_path)},
    )
    assert module.returncode == 0, module.stderr
    commands = [
        line.split()[0] for line in script.stdout.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert "transcode" in commands
    assert module.stdout.split("Commands:")[1] == script.stdout.split("Commands:")[1]


def test_version_needs_no_configuration(tmp_path) -> None:
    done = cbrtl("--version", CBRTL_DATABASE_URL="mysql://not-read", CBRTL_DATA_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"cbrtl, version \d+\.\d+\.\d+\n", done.stdout), done.stdout
