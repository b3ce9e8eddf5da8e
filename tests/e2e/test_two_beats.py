"""Two beat processes tick the same schedules: each slot fires once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import Job, Schedule, ScheduleRun
from db.models.base import utcnow
from db.services import schedules
from tests.e2e.processes import Platform
from tests.services import wait_for


def test_two_beats_fire_a_slot_once(on_services: Platform) -> None:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    try:
        with Session(engine) as session:
            schedule = schedules.create(
                session=session, name="yearly", job_type="trending.refresh", cron="0 0 1 1 *"
            )
            session.flush()
            # A due slot now, and the next one months away: however slowly the beats
            # tick on a loaded machine, exactly one slot can fire during the test.
            slot = utcnow() - timedelta(seconds=1)
            session.execute(
                update(Schedule).where(Schedule.id == schedule.id).values(next_run_at=slot)
            )
            session.commit()
            schedule_id = schedule.id

        on_services.start_worker("default")
        beats = [on_services.start_beat(), on_services.start_beat()]

        def both_ticked_twice() -> bool:
            return all(b.log.read_text().count("schedules-tick") >= 2 for b in beats)

        try:
            wait_for(both_ticked_twice, timeout=150, interval=0.5, what="two ticks from each beat")
        except AssertionError as error:
            logs = "\n".join(f"--- {b.log.name}\n{b.tail(15)}" for b in beats)
            raise AssertionError(f"{error}\n{logs}") from None
        with Session(engine) as session:
            runs = session.scalar(
                select(func.count())
                .select_from(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id)
            )
            fired = session.scalars(select(Job).where(Job.type == "trending.refresh")).all()
            moved = session.get(Schedule, schedule_id)
            assert runs == 1
            assert [j.args for j in fired if j.args.get("schedule_id") == schedule_id] == [
                {"schedule_id": schedule_id}
            ]
            assert moved is not None and moved.next_run_at > utcnow() + timedelta(days=1)
    finally:
        engine.dispose()
