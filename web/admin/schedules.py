"""Retrain (and other) schedules for operators."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from db.models import Schedule
from db.services import schedules
from web.auth.roles import require_roles
from web.blueprint import Blueprint
from web.input import InputSchema, StrictBoolean
from web.runtime import db_session

blp = Blueprint("schedules", __name__, description="Schedules (ops)")

NAME = validate.Length(min=1, max=100)
CRON = validate.Length(min=9, max=100)


class ScheduleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    job_type = fields.String()
    cron = fields.String()
    args = fields.Dict()
    enabled = fields.Boolean()
    last_run_at = fields.DateTime(allow_none=True)
    next_run_at = fields.DateTime(allow_none=True)


class ScheduleIn(InputSchema):
    name = fields.String(required=True, validate=NAME)
    job_type = fields.String(load_default="recommender.retrain", validate=validate.Length(max=64))
    cron = fields.String(required=True, validate=CRON)
    args = fields.Dict(load_default=dict)
    enabled = StrictBoolean(load_default=True)


class SchedulePatch(InputSchema):
    name = fields.String(validate=NAME)
    job_type = fields.String(validate=validate.Length(max=64))
    cron = fields.String(validate=CRON)
    args = fields.Dict()
    enabled = StrictBoolean()


class ScheduleList(Schema):
    items = fields.List(fields.Nested(ScheduleOut))


@blp.get("/admin/schedules")
@blp.response(200, ScheduleList)
@require_roles("ops")
def list_schedules() -> dict[str, list[Schedule]]:
    return {"items": schedules.list_all(session=db_session())}


@blp.post("/admin/schedules")
@blp.arguments(ScheduleIn())
@blp.response(201, ScheduleOut)
@require_roles("ops")
def create_schedule(body: dict[str, Any]) -> Schedule:
    session = db_session()
    schedule = schedules.create(session=session, **body)
    session.commit()
    return schedule


@blp.patch("/admin/schedules/<id:schedule_id>")
@blp.arguments(SchedulePatch(), required=False)
@blp.response(200, ScheduleOut)
@require_roles("ops")
def patch_schedule(body: dict[str, Any], schedule_id: int) -> Schedule:
    session = db_session()
    schedule = schedules.update(session=session, schedule_id=schedule_id, changes=body)
    session.commit()
    return schedule


@blp.delete("/admin/schedules/<id:schedule_id>")
@blp.response(204)
@require_roles("ops")
def delete_schedule(schedule_id: int) -> None:
    session = db_session()
    schedules.delete(session=session, schedule_id=schedule_id)
    session.commit()
