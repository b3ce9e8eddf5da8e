"""Viewers whose recommendation list waits for a refresh, and the batches a drain takes.
Callers commit.

Once a model is live, a rating (or its deletion) marks its viewer in the rating's own
statement and queues the one platform-wide refresh drain (dedup key `recs:pending`),
the way db/services/stats_backlog.py drains titles: a burst of ratings from many
viewers costs the `ml` queue one job, and a viewer's ratings within one drain's wait
cost one fold-in. The marking and its races are db/services/pending_marks.py's.

Two drains never hold one viewer: a mark taken by a drain comes back (from a rating
that waited on its row) only once that drain has committed, so the later drain reads
every rating the earlier one wrote a list from.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Job, RefreshPending, User
from db.services import pending_marks
from db.services.jobs import enqueue
from db.services.pending_marks import Backlog

DRAIN_TYPE = "recommender.refresh_user"
DRAIN_KEY = "recs:pending"
BATCH = 500  # viewers per drain transaction; a full batch queues the next drain
REFRESH = Backlog(RefreshPending.__table__)  # type: ignore[arg-type]


def mark(*, session: Session, user_id: int) -> None:
    """The viewer's list is due (the caller queues or joins the drain)."""
    pending_marks.mark(session=session, backlog=REFRESH, key=user_id)


def queue_drain(*, session: Session) -> Job:
    return enqueue(session=session, type=DRAIN_TYPE, args={}, dedup_key=DRAIN_KEY)


def take(*, session: Session, limit: int = BATCH) -> list[int]:
    """Up to `limit` marked viewers, marks removed: those whose account still exists, in
    id order. A full batch queues the next drain, committed with this one. Not locked: a
    viewer deleted before the drain commits fails it on the list's foreign key, and the
    retry no longer finds them."""
    taken = pending_marks.take(session=session, backlog=REFRESH, limit=limit)
    if not taken:
        return []
    if len(taken) == limit:
        queue_drain(session=session)
    return list(session.scalars(select(User.id).where(User.id.in_(taken)).order_by(User.id)))
