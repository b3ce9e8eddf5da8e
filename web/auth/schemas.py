from __future__ import annotations

from marshmallow import Schema, fields, validate

from db.models import ROLES


class RegisterIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(
        required=True, validate=validate.Length(min=10, max=256), load_only=True
    )
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=80))


class LoginIn(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(max=1024), load_only=True)


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)))
    created_at = fields.DateTime()


class UserEnvelope(Schema):
    user = fields.Nested(UserOut)


class TokensOut(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
