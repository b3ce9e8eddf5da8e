from __future__ import annotations

from marshmallow import Schema, fields, validate

from db.job_types import JOB_TYPES
from db.models import JOB_STATUSES
from web.input import InputSchema


class JobOut(Schema):
    id = fields.Integer()
    type = fields.String()
    status = fields.String(validate=validate.OneOf(JOB_STATUSES))
    progress = fields.Float()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    args = fields.Dict()
    result = fields.Dict(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class JobFilter(InputSchema):
    type = fields.String(validate=validate.OneOf(sorted(JOB_TYPES)))
    status = fields.String(validate=validate.OneOf(JOB_STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class JobEnvelope(Schema):
    job = fields.Nested(JobOut)
