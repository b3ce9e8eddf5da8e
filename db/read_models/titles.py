"""Title documents (the Content document of API.md), kept ready to send in Redis.

Each document is stored as JSON text tagged with its title's generation
(`cbrtl:title-gen:{platform}:{id}`, a counter). A writer bumps the generation after its commit,
then stores the rebuilt document under the new tag; a reader takes a document only
when its tag is the current generation. So a reader that built a document from rows
a writer has just changed can store it, but nobody will serve it: out-of-order
writes read as misses, never as stale titles. A miss, or Redis being down, builds
the document from the database.

The viewer's own fields come last (`VIEWER_TAIL`), so the per-viewer overlay is a
string splice, not a parse and a re-encode.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.cache import Rider
from db.media_urls import MediaUrls
from db.models import Content, ContentStats, Genre, Job, Video
from db.models.content import content_genres
from db.read_models.platform import platform_of
from db.services.videos import status_from

log = logging.getLogger(__name__)
# {platform}: which database the documents mirror (db/read_models/platform.py).
DOC_KEY = "cbrtl:title:{}:{}"
GEN_KEY = "cbrtl:title-gen:{}:{}"
Stored = tuple[str | None, str]  # (the document if its tag is current, the generation)
# Every writer refreshes its titles after commit; the lifetime is only a backstop for
# a change made outside them (a bulk load, a manual SQL fix).
TTL_S = 3600
# A video on its way (uploading, queued, processing) changes state in job rows no
# title writer watches: such documents are kept only briefly.
IN_TRANSIT_TTL_S = 5
IN_TRANSIT = frozenset({"uploading", "queued", "processing"})
VIEWER_TAIL = ',"your_rating":null,"predicted_rating":null}'


def _float(value: float | None) -> float | None:
    return float(value) if value is not None else None


def _iso(value: datetime) -> str:
    return value.isoformat()


def build(session: Session, ids: Iterable[int], urls: MediaUrls) -> dict[int, tuple[str, bool]]:
    """{id: (document, settled)} for the titles that exist, in two queries (no ORM
    objects). `settled` is False while the video is in transit."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(
            Content.id,
            Content.title,
            Content.description,
            Content.release_year,
            Content.duration_s,
            Content.owner_id,
            Content.created_at,
            ContentStats.rating_mean,
            ContentStats.rating_count,
            ContentStats.rating_bayesian,
            Video.status,
            Video.master_key,
            Video.poster_key,
            Video.thumbnail_keys,
            Job.status,
        )
        .outerjoin(ContentStats, ContentStats.content_id == Content.id)
        .outerjoin(Video, Video.content_id == Content.id)
        .outerjoin(Job, Job.id == Video.job_id)
        .where(Content.id.in_(wanted))
    ).all()
    genres: dict[int, list[str]] = {}
    for content_id, name in session.execute(
        select(content_genres.c.content_id, Genre.name)
        .join(Genre, Genre.id == content_genres.c.genre_id)
        .where(content_genres.c.content_id.in_(wanted))
    ):
        genres.setdefault(content_id, []).append(name)
    built: dict[int, tuple[str, bool]] = {}
    for row in rows:
        status = status_from(row[10], row[11], row[14])
        thumbnails: Sequence[str] = row[13] or []
        document: dict[str, Any] = {
            "id": row[0],
            "title": row[1],
            "description": row[2],
            "genres": sorted(genres.get(row[0], [])),
            "release_year": row[3],
            "duration_s": _float(row[4]),
            "owner_id": row[5],
            "created_at": _iso(row[6]),
            "rating": {
                "average": _float(row[7]),
                "count": int(row[8] or 0),
                "bayesian": _float(row[9]),
            },
            "video": {
                "status": status,
                "poster_url": urls.direct(row[12]) if row[12] else None,
                # Cards show the middle still (320 px wide, a few KB), not the poster.
                "thumbnail_url": urls.direct(thumbnails[len(thumbnails) // 2])
                if thumbnails
                else None,
            },
            "your_rating": None,
            "predicted_rating": None,
        }
        built[row[0]] = (json.dumps(document, separators=(",", ":")), status not in IN_TRANSIT)
    return built


def with_viewer(document: str, your_rating: float | None, predicted: float | None) -> str:
    """The document as one viewer sees it."""
    if your_rating is None and predicted is None:
        return document
    return (
        document[: -len(VIEWER_TAIL)]
        + f',"your_rating":{_number(your_rating)},"predicted_rating":{_number(predicted)}}}'
    )


def with_field(document: str, name: str, value: str) -> str:
    """The document with one more text field (a row item's reason)."""
    return f"{document[:-1]},{_text(name)}:{_text(value)}}}"


def _number(value: float | None) -> str:
    # repr is the JSON of a finite float, and a fraction of json.dumps's cost.
    return "null" if value is None or not math.isfinite(value) else repr(float(value))


@lru_cache(maxsize=1024)
def _text(value: str) -> str:
    """JSON of a string; lists repeat a handful of reasons."""
    return json.dumps(value)


class TitleStore:
    """Title documents in Redis with the database behind them."""

    def __init__(self, cache: redis.Redis | None, urls: MediaUrls) -> None:
        self.cache = cache
        self.urls = urls
        self._ttl_s: int | None = None
        self.platform = platform_of(urls.settings)

    def doc_key(self, content_id: int) -> str:
        return DOC_KEY.format(self.platform, content_id)

    def gen_key(self, content_id: int) -> str:
        return GEN_KEY.format(self.platform, content_id)

    def ttl_s(self, settled: bool) -> int:
        if not settled:
            return IN_TRANSIT_TTL_S
        if self._ttl_s is None:
            # Signed URLs expire: keep documents for a tenth of their lifetime at most.
            signed = self.urls.settings.signed_url_ttl_s if self.urls.signs else 0
            self._ttl_s = min(TTL_S, signed // 10) if signed else TTL_S
        return self._ttl_s

    def documents(
        self,
        session: Session,
        ids: Sequence[int],
        rider: Rider | None = None,
        *,
        prefetched: Mapping[int, Stored] | None = None,
    ) -> dict[int, str]:
        """{id: document} for the titles that exist; one Redis round trip on a hit
        (carrying `rider`, if any), none when `prefetched` (values read earlier in the
        request, `parse`) holds them all."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        known = prefetched or {}
        missing = [i for i in wanted if i not in known]
        stored = {**known, **self._read(missing, rider)} if missing else known
        found: dict[int, str] = {}
        generations: dict[int, str] = {}
        for content_id in wanted:
            doc, generation = stored.get(content_id, (None, "0"))
            if doc is not None:
                found[content_id] = doc
            else:
                generations[content_id] = generation
        if generations:
            built = build(session, generations, self.urls)
            found |= {cid: doc for cid, (doc, _) in built.items()}
            self._write({cid: (generations[cid], *built[cid]) for cid in built})
        return found

    def refresh(self, session: Session, ids: Iterable[int]) -> None:
        """After a commit that changed these titles: new generations, new documents,
        and none for titles that are gone. Failures leave misses behind, never stale
        documents (the bumped generation no longer matches)."""
        wanted = sorted(set(ids))
        if self.cache is None or not wanted:
            return
        try:
            with self.cache.pipeline(transaction=False) as pipe:
                for content_id in wanted:
                    pipe.incr(self.gen_key(content_id))
                generations = [str(g) for g in pipe.execute()]
        except redis.RedisError as error:
            log.warning("title documents not refreshed: %s", error)
            return
        built = build(session, wanted, self.urls)
        gone = [cid for cid in wanted if cid not in built]
        by_id = dict(zip(wanted, generations, strict=True))
        self._write({cid: (by_id[cid], *built[cid]) for cid in built}, gone=gone)

    def key_prefixes(self) -> tuple[str, str]:
        """A document's key and its generation's key, each without the id."""
        return DOC_KEY.format(self.platform, ""), GEN_KEY.format(self.platform, "")

    def keys(self, ids: Sequence[int]) -> list[str]:
        """The documents' keys, then their generations' keys: what `parse` reads."""
        return [self.doc_key(i) for i in ids] + [self.gen_key(i) for i in ids]

    def _read(self, ids: list[int], rider: Rider | None) -> dict[int, Stored]:
        """{id: (document if its tag is current, current generation)}; {} when Redis fails."""
        if self.cache is None:
            return {}
        keys = self.keys(ids)
        try:
            if rider is None:
                values: list[Any] = self.cache.mget(keys)  # type: ignore[assignment]
            else:
                with self.cache.pipeline(transaction=False) as pipe:
                    pipe.mget(keys)
                    rider.queue(pipe)
                    values, reply = pipe.execute()
                rider.answer(reply)
        except redis.RedisError as error:
            log.warning("title documents unavailable: %s", error)
            return {}
        return parse(ids, values)

    def _write(self, docs: dict[int, tuple[str, str, bool]], *, gone: Sequence[int] = ()) -> None:
        """Store {id: (generation, document, settled)}; delete the documents of `gone`."""
        if self.cache is None or not (docs or gone):
            return
        try:
            with self.cache.pipeline(transaction=False) as pipe:
                for content_id, (generation, doc, settled) in docs.items():
                    pipe.set(
                        self.doc_key(content_id), f"{generation}|{doc}", ex=self.ttl_s(settled)
                    )
                for content_id in gone:
                    pipe.delete(self.doc_key(content_id))
                pipe.execute()
        except redis.RedisError as error:
            log.warning("title documents not stored: %s", error)


def parse(ids: Sequence[int], values: Sequence[Any]) -> dict[int, Stored]:
    """The replies to `TitleStore.keys(ids)`: {id: (document if its tag is current,
    current generation)}."""
    # A client without decode_responses hands back bytes.
    values = [v.decode() if isinstance(v, bytes) else v for v in values]
    stored: dict[int, Stored] = {}
    for content_id, value, generation in zip(
        ids, values[: len(ids)], values[len(ids) :], strict=True
    ):
        current = generation or "0"
        tag, _, doc = (value or "").partition("|")
        stored[content_id] = (doc if value and tag == current else None, current)
    return stored
