"""The operations overview for operators: queues, outbox, jobs, beat."""

from __future__ import annotations

from marshmallow import Schema, fields

from db.models.base import utcnow
from db.services import operations
from web.auth.roles import require_roles
from web.blueprint import Blueprint
from web.runtime import db_session, runtime

blp = Blueprint("operations", __name__, description="Operations overview (ops)")


class QueueOut(Schema):
    depth = fields.Integer(
        allow_none=True, metadata={"description": "messages ready; null: the broker did not answer"}
    )


class OutboxOut(Schema):
    unpublished = fields.Integer(
        metadata={"description": "queued jobs not yet handed to the broker"}
    )
    lag_s = fields.Float(metadata={"description": "how long the oldest due one has waited"})


class JobCountsOut(Schema):
    queued = fields.Integer()
    running = fields.Integer()
    failed = fields.Integer()
    dead = fields.Integer()


class BeatOut(Schema):
    last_tick_at = fields.DateTime(allow_none=True)
    age_s = fields.Float(allow_none=True)


class OperationsOut(Schema):
    queues = fields.Dict(keys=fields.String(), values=fields.Nested(QueueOut))
    outbox = fields.Nested(OutboxOut)
    jobs = fields.Nested(JobCountsOut)
    beat = fields.Nested(
        BeatOut, metadata={"description": "null fields: no heartbeat (no Redis, or beat never ran)"}
    )
    problems = fields.List(
        fields.String(), metadata={"description": "sources that did not answer: broker, cache"}
    )


@blp.get("/admin/operations")
@blp.response(200, OperationsOut)
@require_roles("ops")
def overview() -> operations.Overview:
    rt = runtime()
    return operations.overview(
        session=db_session(), publisher=rt.publisher, cache=rt.cache, now=utcnow()
    )
