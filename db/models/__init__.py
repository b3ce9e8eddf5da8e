"""Every model, so that metadata (and Alembic) sees them all."""

from db.models.base import Base
from db.models.content import Content, ContentStats, Genre, Trending, content_genres
from db.models.jobs import JOB_STATUSES, Job
from db.models.media import Upload, Video
from db.models.preferences import GenrePreference
from db.models.ratings import Rating, StatsPending
from db.models.recommender import (
    RatingFactors,
    RecModel,
    Recommendation,
    RefreshPending,
    Schedule,
    ScheduleRun,
    SimilarItem,
)
from db.models.sessions import TokenFamily
from db.models.users import ROLES, User, UserRole
from db.models.viewing import ViewingProgress

__all__ = [
    "JOB_STATUSES",
    "ROLES",
    "Base",
    "Content",
    "ContentStats",
    "Genre",
    "GenrePreference",
    "Job",
    "Rating",
    "RatingFactors",
    "RecModel",
    "Recommendation",
    "RefreshPending",
    "Schedule",
    "ScheduleRun",
    "SimilarItem",
    "StatsPending",
    "TokenFamily",
    "Trending",
    "Upload",
    "User",
    "UserRole",
    "Video",
    "ViewingProgress",
    "content_genres",
]
