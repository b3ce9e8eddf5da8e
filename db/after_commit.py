"""Work that may happen only once a transaction's changes are visible: cache and
read-model writes, deleting objects the database no longer names.

`call_after_commit(session, fn)` runs `fn` after the outermost commit of the
transaction it was called in. A rollback of that transaction, or of the savepoint
it was called in, drops it; so does closing the session without committing.
Like the outbox (db/outbox.py), it rides on session events; the listeners are
attached to the session on first use, so any session can carry it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)
_PENDING = "cbrtl.after_commit.pending"
_LISTENING = "cbrtl.after_commit.listening"
Pending = list[tuple[SessionTransaction, Callable[[], object]]]


def call_after_commit(session: Session, fn: Callable[[], object]) -> None:
    """Run `fn` once this session's outermost transaction has committed."""
    if not session.info.get(_LISTENING):
        event.listen(session, "after_commit", _run)
        event.listen(session, "after_soft_rollback", _drop_rolled_back)
        event.listen(session, "after_transaction_end", _drop_uncommitted)
        session.info[_LISTENING] = True
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    pending: Pending = session.info.setdefault(_PENDING, [])
    pending.append((transaction, fn))


def _run(session: Session) -> None:
    # after_commit also fires when a savepoint is released: nothing is visible yet.
    if session.in_nested_transaction():
        return
    pending: Pending = session.info.pop(_PENDING, [])
    for _, fn in pending:
        try:
            fn()
        except Exception:  # the commit stands; a cache left behind reads as a miss
            log.exception("after-commit step %r failed", fn)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: Pending = session.info.get(_PENDING, [])
    pending[:] = [(t, fn) for t, fn in pending if not _within(t, previous_transaction)]


def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended: a commit ran its steps already, so what is left
    # belongs to a rollback or to a session closed without a commit.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
