from __future__ import annotations

from marshmallow import Schema, fields, validate

from db.models import ROLES
from db.password_policy import MAX_LENGTH, MIN_LENGTH
from web.input import InputSchema

DISPLAY_NAME = validate.Length(min=1, max=80)


class RegisterIn(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    # Length is also in the policy (db/password_policy.py), which says why a password is refused.
    password = fields.String(
        required=True, load_only=True, metadata={"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
    )
    display_name = fields.String(required=True, validate=DISPLAY_NAME)


class LoginIn(InputSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    # Longer than any valid password: refuse before spending an argon2 run on it.
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH)
    )


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


class ProfilePatch(InputSchema):
    display_name = fields.String(validate=DISPLAY_NAME)


class PasswordChange(InputSchema):
    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH)
    )
    new_password = fields.String(
        required=True, load_only=True, metadata={"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
    )


class Preferences(InputSchema):
    genres = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        required=True,
        validate=validate.Length(max=50),
    )
