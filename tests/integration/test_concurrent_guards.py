"""Guards that must hold under real concurrency, on PostgreSQL and on an SQLite file.

Each racer has its own connection (a thread and a session each): the per-test
transaction of the other tests would serialise them and hide the race. SQLite
ignores FOR UPDATE, so a guard that relies on it fails there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.errors import AuthenticationFailed, InvalidInput
from db.migrate import upgrade
from db.models import TokenFamily, User
from db.passwords import verify_password
from db.services import sessions, users
from tests import services
from tests.factories import PASSWORD, make_user

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
            except AuthenticationFailed as error:
                outcomes[index] = error
            except InvalidInput as error:
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


def test_two_refreshes_with_one_token_make_one_winner_and_revoke_the_family(
    engine: Engine,
) -> None:
    for _ in range(TRIALS):
        _, family_id, presented = new_family(engine)

        def refresh(session: Session, family_id: str = family_id, presented: str = presented) -> str:
            return sessions.rotate(
                session=session,
                family_id=family_id,
                presented_jti=presented,
                next_jti=sessions.new_token_id(),
                ttl=TTL,
            ).id

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

        def refresh(session: Session, family_id: str = family_id, presented: str = presented) -> str:
            return sessions.rotate(
                session=session,
                family_id=family_id,
                presented_jti=presented,
                next_jti=sessions.new_token_id(),
                ttl=TTL,
            ).id

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

        outcomes = race(engine, lambda s: change(s, new[0]), lambda s: change(s, new[1]))
        winners = [i for i, o in enumerate(outcomes) if isinstance(o, User)]
        assert len(winners) == 1, outcomes
        assert isinstance(outcomes[1 - winners[0]], InvalidInput)
        with Session(engine) as session:
            user = session.get(User, user_id)
            assert user is not None and verify_password(user.password_hash, new[winners[0]])
