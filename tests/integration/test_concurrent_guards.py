"""Guards that must hold under real concurrency, on PostgreSQL and on an SQLite file.

Each racer has its own connection (a thread and a session each): the per-test
transaction of the other tests would serialise them and hide the race. SQLite
ignores FOR UPDATE, so a guard that relies on it fails there.
"""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.errors import Conflict, DomainError, InvalidInput
from db.migrate import upgrade
from db.models import Content, Job, TokenFamily, Upload, User
from db.models.base import utcnow
from db.passwords import verify_password
from db.services import content, ratings, sessions, uploads, users
from db.storage import FileStorage
from tests import services
from tests.factories import PASSWORD, make_content, make_user

TTL = timedelta(days=1)
TRIALS = 5


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = services.create_database("cbrtl_race")
    else:
        url = f"sqlite:///{tmp_path / 'cbrtl.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        services.drop_database(url)


def race(engine: Engine, *racers: Callable[[Session], object]) -> list[object]:
    """Run each racer at once in its own thread and session, committing what it did;
    return what each returned or raised."""
    start = threading.Barrier(len(racers))
    outcomes: list[object] = [None] * len(racers)

    def run(index: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            start.wait(timeout=10)
            try:
                outcomes[index] = racers[index](session)
            except DomainError as error:
                outcomes[index] = error
            session.commit()  # a reuse's revocation stands, as the view commits it

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def new_family(engine: Engine) -> tuple[int, str, str]:
    with Session(engine, expire_on_commit=False) as session:
        user = make_user(session)
        jti = sessions.new_token_id()
        family = sessions.start(session=session, user_id=user.id, refresh_jti=jti, ttl=TTL)
        session.commit()
        return user.id, family.id, jti


def rotate(session: Session, *, family_id: str, presented: str) -> str:
    return sessions.rotate(
        session=session,
        family_id=family_id,
        presented_jti=presented,
        next_jti=sessions.new_token_id(),
        ttl=TTL,
    ).id


def test_two_refreshes_with_one_token_make_one_winner_and_revoke_the_family(
    engine: Engine,
) -> None:
    for _ in range(TRIALS):
        _, family_id, presented = new_family(engine)

        refresh = partial(rotate, family_id=family_id, presented=presented)

        outcomes = race(engine, refresh, refresh)
        winners = [o for o in outcomes if isinstance(o, str)]
        losers = [o for o in outcomes if isinstance(o, sessions.RefreshTokenReused)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        with Session(engine) as session:
            family = session.get(TokenFamily, family_id)
            assert family is not None and family.revoked_reason == "reuse"


def test_a_refresh_racing_a_logout_never_outlives_it(engine: Engine) -> None:
    for _ in range(TRIALS):
        _, family_id, presented = new_family(engine)

        refresh = partial(rotate, family_id=family_id, presented=presented)

        def logout(session: Session, family_id: str = family_id) -> None:
            sessions.revoke(session=session, family_id=family_id, reason="logout")

        race(engine, refresh, logout)
        with Session(engine) as session:
            assert sessions.is_revoked(session=session, family_id=family_id)


def test_two_password_changes_with_the_old_password_make_one_winner(engine: Engine) -> None:
    for trial in range(TRIALS):
        user_id, _, _ = new_family(engine)
        new = [f"first new passphrase {trial}", f"second new passphrase {trial}"]

        def change(session: Session, new_password: str, user_id: int = user_id) -> User:
            return users.change_password(
                session=session,
                user_id=user_id,
                current_password=PASSWORD,
                new_password=new_password,
            )

        outcomes = race(
            engine, partial(change, new_password=new[0]), partial(change, new_password=new[1])
        )
        winners = [i for i, o in enumerate(outcomes) if isinstance(o, User)]
        assert len(winners) == 1, outcomes
        assert isinstance(outcomes[1 - winners[0]], InvalidInput)
        with Session(engine) as session:
            user = session.get(User, user_id)
            assert user is not None and verify_password(user.password_hash, new[winners[0]])


def test_two_sign_ups_with_one_email_make_one_account(engine: Engine) -> None:
    for trial in range(TRIALS):
        email = f"twice{trial}@example.org"

        def sign_up(session: Session, email: str = email) -> User:
            return users.create_user(
                session=session, email=email, password=PASSWORD, display_name="Twice"
            )

        outcomes = race(engine, sign_up, sign_up)
        assert sum(isinstance(o, User) for o in outcomes) == 1, outcomes
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes


MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
CHUNK = 64 * 1024
LIMITS = uploads.UploadLimits(max_bytes=10 * CHUNK, chunk_bytes=CHUNK, ttl=TTL)


def open_upload(engine: Engine, storage: FileStorage, size: int) -> str:
    with Session(engine, expire_on_commit=False) as session:
        owner = make_user(session)
        item = make_content(session, owner=owner)
        upload = uploads.create(
            session=session,
            storage=storage,
            content_id=item.id,
            user_id=owner.id,
            is_admin=True,
            filename="a.mp4",
            size_bytes=size,
            content_type="video/mp4",
            limits=LIMITS,
        )
        session.commit()
        return upload.id


def locked(session: Session, upload_id: str) -> Upload:
    return uploads.get(session=session, upload_id=upload_id, user_id=0, is_admin=True, lock=True)


def test_the_same_chunk_twice_at_once_advances_the_upload_once(
    engine: Engine, tmp_path: Path
) -> None:
    storage = FileStorage(tmp_path / "media")
    for _ in range(TRIALS):
        upload_id = open_upload(engine, storage, 2 * CHUNK)
        first = MP4_HEAD + bytes(CHUNK - len(MP4_HEAD))

        def send(session: Session, upload_id: str = upload_id, body: bytes = first) -> Upload:
            return uploads.write_chunk(
                session=session,
                storage=storage,
                upload=locked(session, upload_id),
                start=0,
                end=CHUNK - 1,
                total=2 * CHUNK,
                body=io.BytesIO(body),
            )

        outcomes = race(engine, send, send)
        assert sum(isinstance(o, Upload) for o in outcomes) == 1, outcomes
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
        with Session(engine) as session:
            upload = session.get(Upload, upload_id)
            assert upload is not None and upload.received == CHUNK and len(upload.parts) == 1


def test_two_completes_at_once_queue_one_transcode(engine: Engine, tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "media")
    for _ in range(TRIALS):
        upload_id = open_upload(engine, storage, len(MP4_HEAD))
        with Session(engine) as session:
            uploads.write_chunk(
                session=session,
                storage=storage,
                upload=locked(session, upload_id),
                start=0,
                end=len(MP4_HEAD) - 1,
                total=len(MP4_HEAD),
                body=io.BytesIO(MP4_HEAD),
            )
            session.commit()

        def complete(session: Session, upload_id: str = upload_id) -> int:
            return uploads.complete(
                session=session, storage=storage, upload=locked(session, upload_id)
            ).id

        outcomes = race(engine, complete, complete)
        assert all(isinstance(o, int) for o in outcomes) and outcomes[0] == outcomes[1], outcomes
        with Session(engine) as session:
            assert session.get(Job, outcomes[0]) is not None


def other_writer_is_locked_out(engine: Engine, content_id: int) -> bool:
    """Whether another connection, now, would have to wait to change the content row."""
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(engine.url.database or "", timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError:  # database is locked
            return True
        finally:
            probe.close()
        return False
    with engine.connect() as conn:
        try:
            conn.execute(
                select(Content.id).where(Content.id == content_id).with_for_update(nowait=True)
            )
        except OperationalError:  # could not obtain lock
            return True
        return False


def test_a_stats_recompute_reads_the_ratings_under_its_lock(engine: Engine) -> None:
    """Two recomputes of one title must not interleave, or the one that read first
    writes last and leaves stale stats: the lock must be held when the ratings are read."""
    with Session(engine, expire_on_commit=False) as session:
        item = make_content(session)
        session.commit()
    seen: list[bool] = []

    def probe(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "avg(" in statement.lower() and "ratings" in statement.lower():
            seen.append(other_writer_is_locked_out(engine, item.id))

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", probe)
        try:
            ratings.recompute_stats(session=session, content_id=item.id)
        finally:
            event.remove(engine, "before_cursor_execute", probe)
        session.commit()
    assert seen and all(seen), seen


def test_a_title_being_changed_is_locked_against_its_deletion(engine: Engine) -> None:
    """An update racing the title's delete: without the lock the update's write
    matches no row (a 500) or an upload is added under a deleted title."""
    with Session(engine, expire_on_commit=False) as session:
        item = make_content(session)
        session.commit()
    with Session(engine) as session:
        content.editable_content(session=session, content_id=item.id, user_id=0, is_admin=True)
        assert other_writer_is_locked_out(engine, item.id)
        session.rollback()
    assert not other_writer_is_locked_out(engine, item.id)


def test_two_sweeps_at_once_expire_an_upload_once(engine: Engine, tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "media")
    later = utcnow() + 2 * TTL

    def sweep(session: Session) -> int:
        return uploads.expire(session=session, storage=storage, now=later)

    for _ in range(TRIALS):
        upload_id = open_upload(engine, storage, CHUNK)

        assert race(engine, sweep, sweep) in ([1, 0], [0, 1])
        with Session(engine) as session:
            upload = session.get(Upload, upload_id)
            assert upload is not None and upload.status == "expired"
