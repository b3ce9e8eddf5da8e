"""The real web app with the rating's job enqueue removed, for this process only.

Benchmark use only (bench/rating_throughput.py runs it as
`gunicorn --pythonpath bench 'wsgi_no_enqueue:application'`). Production code is
untouched: `db.services.ratings.rate` looks `enqueue_keyed` up in its own module
globals at call time, so replacing that one name makes a rating write no `jobs`
row (its title's stats mark, written by the upsert's own statement, stays). The
outbox then has nothing to publish after commit, so there is no RabbitMQ round trip
and no `published_at` update either. Everything else in the
request (JWT check, validation, content lookup, rating upsert, commit, response)
is the production path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.job_types import job_type
from db.models import Job
from db.services import ratings
from web.app import create_app


def _no_enqueue(*, session: Session, jobs: list[tuple[str, dict[str, Any], str]]) -> list[Job]:
    """Called like db.services.jobs.enqueue_keyed and returns Jobs, but they stay
    transient: never added to the session, so never flushed, committed or published."""
    return [Job(type=job_type(t).name, queue=job_type(t).queue, args=a) for t, a, _ in jobs]


ratings.enqueue_keyed = _no_enqueue

application = create_app()
