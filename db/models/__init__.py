"""Every model, so that metadata (and Alembic) sees them all."""

from db.models.base import Base
from db.models.content import Content, ContentStats, Genre, content_genres
from db.models.jobs import JOB_STATUSES, Job
from db.models.ratings import Rating
from db.models.users import ROLES, User, UserRole

__all__ = [
    "JOB_STATUSES",
    "ROLES",
    "Base",
    "Content",
    "ContentStats",
    "Genre",
    "Job",
    "Rating",
    "User",
    "UserRole",
    "content_genres",
]
