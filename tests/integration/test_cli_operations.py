"""`cbrtl schedules`, `jobs`, `retrain` and `eval` as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Job, Schedule
from tests.services import cbrtl


def test_schedules_and_jobs_commands(pg_url: str, pg_engine, tmp_path: Path) -> None:
    env = {"CBRTL_DATABASE_URL": pg_url, "CBRTL_DATA_DIR": str(tmp_path)}
    added = cbrtl("schedules", "add", "cli-nightly", "--cron", "0 3 * * *", **env)
    try:
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("schedule ") and "03:00 UTC" in added.stdout
        with Session(pg_engine) as session:
            schedule = session.scalar(select(Schedule).where(Schedule.name == "cli-nightly"))
            assert schedule is not None and schedule.job_type == "recommender.retrain"
        bad = cbrtl("schedules", "add", "x", "--cron", "0 3 * *", **env)
        assert bad.returncode == 1 and bad.stderr.startswith("cbrtl: The cron expression")
        assert cbrtl("schedules", "disable", str(schedule.id), **env).returncode == 0
        listed = cbrtl("schedules", "list", **env)
        assert "cli-nightly" in listed.stdout and " no " in listed.stdout
        missing = cbrtl("schedules", "remove", "987654", **env)
        assert missing.returncode == 1 and "No schedule 987654" in missing.stderr

        queued = cbrtl("retrain", **env)
        assert queued.returncode == 0, queued.stderr
        job_id = int(queued.stdout.split()[1])
        shown = json.loads(cbrtl("jobs", "show", str(job_id), **env).stdout)
        assert (shown["type"], shown["status"]) == ("recommender.retrain", "queued")
        assert str(job_id) in cbrtl("jobs", "list", "--type", "recommender.retrain", **env).stdout
        not_dead = cbrtl("jobs", "retry", str(job_id), **env)
        assert not_dead.returncode == 1 and "only failed or dead" in not_dead.stderr
    finally:
        with Session(pg_engine) as session:
            session.query(Schedule).filter(Schedule.name == "cli-nightly").delete()
            session.query(Job).filter(Job.type == "recommender.retrain").delete()
            session.commit()


def test_eval_prints_every_model_and_baseline(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lines = []
    for user in range(1, 81):
        for item in rng.choice(np.arange(1, 61), size=20, replace=False):
            lines.append(f"{user}\t{item}\t{rng.integers(1, 6)}\t881250949")
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    done = cbrtl(
        "eval", "--dataset", str(folder), "--folds", "2", "--json", CBRTL_DATA_DIR=str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(rows) == {"ease", "svd_tuned", "svd_surprise_defaults", "most_popular", "random"}
    assert rows["svd_tuned"]["rmse"] is not None and rows["ease"]["rmse"] is None
    assert all(0 <= row["ndcg"] <= 1 for row in rows.values())
    wrong = cbrtl("eval", "--dataset", str(tmp_path), CBRTL_DATA_DIR=str(tmp_path))
    assert wrong.returncode == 1 and "neither u.data nor ratings.csv" in wrong.stderr
