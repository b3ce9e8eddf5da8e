"""Keeping title documents in step with the rows they are built from.

A session factory with the sync installed notes the titles each flush touched
through the ORM (a title, its genres, its video or stats row) and those a service
names with `mark_changed` (Core statements the ORM does not see: a delete, the
stats upsert), and refreshes their documents once the transaction commits. A
rollback forgets them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from db.models import Content, ContentStats, Video

if TYPE_CHECKING:
    from db.read_models.titles import TitleStore

log = logging.getLogger(__name__)
_CHANGED = "cbrtl.read_models.titles"
# By the session class a factory makes (each sessionmaker has its own subclass).
_stores: WeakKeyDictionary[type[Session], TitleStore] = WeakKeyDictionary()


def mark_changed(session: Session, content_ids: Iterable[int]) -> None:
    """These titles' documents are rebuilt after this session's commit."""
    session.info.setdefault(_CHANGED, set()).update(int(i) for i in content_ids)


def install_title_sync(factory: sessionmaker[Session], store: TitleStore) -> None:
    """Idempotent: a factory installed again keeps one set of listeners, the new store."""
    if factory.class_ not in _stores:
        event.listen(factory, "after_flush", _collect)
        event.listen(factory, "after_commit", _refresh)
        event.listen(factory, "after_rollback", _forget)
    _stores[factory.class_] = store


def _touched(obj: Any) -> int | None:
    if isinstance(obj, Content):
        return obj.id
    if isinstance(obj, Video | ContentStats):
        return obj.content_id
    return None


def _collect(session: Session, _flush_context: Any) -> None:
    ids = {_touched(obj) for obj in (*session.new, *session.dirty, *session.deleted)}
    ids.discard(None)
    if ids:
        mark_changed(session, ids)  # type: ignore[arg-type]


def _forget(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_CHANGED, None)


def _refresh(session: Session) -> None:
    # after_commit also fires when a savepoint is released: nothing is visible yet.
    if session.in_nested_transaction():
        return
    ids = session.info.pop(_CHANGED, None)
    store = _stores.get(type(session))
    if not ids or store is None:
        return
    try:
        # The session cannot run SQL in after_commit; a short second one on its bind can.
        with Session(bind=session.get_bind(), join_transaction_mode="create_savepoint") as reader:
            store.refresh(reader, ids)
    except Exception:  # the commit stands; what was not refreshed reads as a miss
        log.exception("title documents %s not refreshed", sorted(ids))
