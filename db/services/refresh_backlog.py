"""Viewers whose recommendation list waits for a refresh, and the batches a drain takes.
Callers commit.

Once a model is live, a rating (or its deletion) stamps its viewer's mark in the
rating's own statement and joins the stats drain (db/services/stats_backlog.py); that
drain, finding marked viewers, queues the one platform-wide list drain (dedup key
`recs:pending`) on `ml`. A rating therefore holds one queued job row, not two (two
rows that every rating joins, in an order one statement does not fix, deadlock), and a
burst of ratings from many viewers costs `ml` one job and each viewer one fold-in.

The marks are stamped (db/services/pending_marks.py): a drain (one at a time, by an
advisory lock) reads a batch without locking it, refreshes the lists from the ratings
committed by then, and removes only the marks still holding the stamps it read. A
rating never waits for a drain's fold-ins, and one that lands meanwhile leaves its mark
for the next drain, which the stats drain its rating joined queues.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import Job, RefreshPending, User
from db.services import pending_marks
from db.services.jobs import enqueue
from db.services.pending_marks import Backlog

DRAIN_TYPE = "recommender.refresh_user"
DRAIN_KEY = "recs:pending"
BATCH = 500  # viewers per drain transaction; a full batch queues the next drain
REFRESH = Backlog(RefreshPending.__table__, stamped=True)  # type: ignore[arg-type]
TURN_KEY = 0x63627274_6C726563  # "cbrtlrec": the list drains' advisory lock
_TURN = text("SELECT pg_advisory_xact_lock(:key)")


@dataclass(frozen=True)
class Batch:
    users: list[int]  # the marked viewers whose account exists, in id order
    marks: list[tuple[int, int]]  # (viewer, stamp) as read, for `settle`


def mark(*, session: Session, user_id: int) -> None:
    """The viewer's list is due (the caller's stats drain queues the list drain)."""
    pending_marks.mark(session=session, backlog=REFRESH, key=user_id)


def queue_drain(*, session: Session) -> Job:
    return enqueue(session=session, type=DRAIN_TYPE, args={}, dedup_key=DRAIN_KEY)


def queue_if_marked(*, session: Session) -> Job | None:
    """The list drain, queued or joined, when any viewer is marked."""
    if session.scalar(select(RefreshPending.user_id).limit(1)) is None:
        return None
    return queue_drain(session=session)


def take(*, session: Session, limit: int = BATCH) -> Batch:
    """Up to `limit` marked viewers, marks left in place until `settle`. A viewer
    deleted before the drain commits fails it on the list's foreign key; the retry no
    longer finds them."""
    if session.get_bind().dialect.name == "postgresql":
        # Drains take turns (until the holder commits): two at once would read the same
        # unlocked marks and fold the same viewers twice.
        session.execute(_TURN, {"key": TURN_KEY})
    marks = pending_marks.read_stamped(session=session, backlog=REFRESH, limit=limit)
    if not marks:
        return Batch([], [])
    live = select(User.id).where(User.id.in_([user for user, _ in marks])).order_by(User.id)
    return Batch(list(session.scalars(live)), marks)


def settle(*, session: Session, batch: Batch, limit: int = BATCH) -> None:
    """The batch is done: its marks go unless stamped anew; a full batch queues the next
    drain (both committed with the lists)."""
    pending_marks.forget(session=session, backlog=REFRESH, marks=batch.marks)
    if len(batch.marks) == limit:
        queue_drain(session=session)
