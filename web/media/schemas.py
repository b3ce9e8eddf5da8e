from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.input import InputSchema


class UploadIn(InputSchema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    size_bytes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    content_type = fields.String(required=True, validate=validate.Length(min=1, max=100))


class UploadCreated(Schema):
    upload_id = fields.String()
    chunk_size = fields.Integer()
    expires_at = fields.DateTime()


class UploadState(Schema):
    upload_id = fields.String()
    received = fields.Integer()
    size_bytes = fields.Integer()
    status = fields.String()
    chunk_size = fields.Integer()
    expires_at = fields.DateTime()


class Received(Schema):
    received = fields.Integer()


class RenditionOut(Schema):
    name = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    bitrate = fields.Integer()


class VideoOut(Schema):
    status = fields.String(
        validate=validate.OneOf(["none", "uploading", "queued", "processing", "ready", "failed"])
    )
    progress = fields.Float()
    error = fields.String(allow_none=True)
    renditions = fields.List(fields.Nested(RenditionOut))
    master_url = fields.String(allow_none=True)
    poster_url = fields.String(allow_none=True)
    thumbnail_urls = fields.List(fields.String())
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    job_id = fields.Integer(allow_none=True)


class TranscodeIn(InputSchema):
    content_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1)
    )
