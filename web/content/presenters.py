"""Content rows -> the Content document of API.md."""

from __future__ import annotations

from typing import Any

from db.models import Content, Video
from db.services.videos import status_of
from web.media.urls import direct_url


def content_document(
    content: Content, *, your_rating: float | None = None, predicted_rating: float | None = None
) -> dict[str, Any]:
    stats = content.stats
    video = content.video
    return {
        "id": content.id,
        "title": content.title,
        "description": content.description,
        "genres": sorted(g.name for g in content.genres),
        "release_year": content.release_year,
        "duration_s": content.duration_s,
        "owner_id": content.owner_id,
        "created_at": content.created_at,
        "rating": {
            "average": stats.rating_mean if stats else None,
            "count": stats.rating_count if stats else 0,
            "bayesian": stats.rating_bayesian if stats else None,
        },
        "video": {
            "status": status_of(video, video.job if video else None),
            "poster_url": direct_url(video.poster_key) if video and video.poster_key else None,
            "thumbnail_url": _card_image(video),
        },
        "your_rating": your_rating,
        "predicted_rating": predicted_rating,
    }


def _card_image(video: Video | None) -> str | None:
    """A small still for cards in lists: the middle thumbnail (320 px wide, a few KB)
    rather than the full-size poster."""
    if video is None or not video.thumbnail_keys:
        return None
    return direct_url(video.thumbnail_keys[len(video.thumbnail_keys) // 2])
