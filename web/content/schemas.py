from __future__ import annotations

import math

from marshmallow import Schema, ValidationError, fields, validate

from web.input import InputSchema, StrictBoolean
from web.pagination import PageArgs


def _half_step(value: float) -> None:
    if not math.isfinite(value) or not (value * 2).is_integer():
        raise ValidationError("must be between 0.5 and 5.0 in steps of 0.5")


class ContentIn(InputSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    genres = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list)
    release_year = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1870, max=2200)
    )


class ContentPatch(InputSchema):
    title = fields.String(validate=validate.Length(min=1, max=300))
    description = fields.String(validate=validate.Length(max=10_000))
    genres = fields.List(fields.String(validate=validate.Length(min=1, max=40)))
    release_year = fields.Integer(allow_none=True, validate=validate.Range(min=1870, max=2200))


class ContentQuery(PageArgs):
    q = fields.String(validate=validate.Length(min=1, max=200))
    genre = fields.String(validate=validate.Length(min=1, max=40))
    sort = fields.String(
        load_default="newest", validate=validate.OneOf(["newest", "rating", "popular"])
    )


class RatingSummary(Schema):
    average = fields.Float(allow_none=True)
    count = fields.Integer()
    bayesian = fields.Float(allow_none=True)


class VideoSummary(Schema):
    status = fields.String()
    poster_url = fields.String(allow_none=True, metadata={"description": "Once a video is ready"})
    thumbnail_url = fields.String(
        allow_none=True, metadata={"description": "A small still for cards, once ready"}
    )


class ContentOut(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    genres = fields.List(fields.String())
    release_year = fields.Integer(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    owner_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    rating = fields.Nested(RatingSummary)
    video = fields.Nested(VideoSummary)
    your_rating = fields.Float(allow_none=True)
    predicted_rating = fields.Float(allow_none=True)


class RatingIn(InputSchema):
    score = fields.Float(
        required=True,
        allow_nan=False,
        validate=[
            validate.Range(min=0.5, max=5.0, error="must be between 0.5 and 5.0"),
            _half_step,
        ],
        metadata={"multipleOf": 0.5},
    )


class RatingOut(Schema):
    content_id = fields.Integer()
    score = fields.Float()
    rated_at = fields.DateTime()


class PublicRatingOut(Schema):
    display_name = fields.String()
    score = fields.Float()
    rated_at = fields.DateTime()


class ProgressIn(InputSchema):
    position_s = fields.Float(
        required=True, allow_nan=False, validate=validate.Range(min=0, max=7 * 24 * 3600)
    )
    completed = StrictBoolean(load_default=False)
