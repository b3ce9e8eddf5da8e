"""Retraining and model versions, for operators."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from db.models import Job, RecModel
from db.services import jobs, recommender
from web.auth.roles import require_roles
from web.blueprint import Blueprint
from web.input import InputSchema
from web.jobs.schemas import JobEnvelope
from web.runtime import db_session

blp = Blueprint("models", __name__, description="Recommender models (ops)")

ALGORITHMS = ("ease", "svd", "auto")


class RetrainIn(InputSchema):
    algorithm = fields.String(load_default="auto", validate=validate.OneOf(ALGORITHMS))
    params = fields.Dict(load_default=dict)
    # Activate the new versions even if they score worse than the active ones.
    force = fields.Boolean(load_default=False)


class ModelOut(Schema):
    version = fields.Integer()
    purpose = fields.String()
    algorithm = fields.String()
    params = fields.Dict()
    metrics = fields.Dict()
    trained_ratings = fields.Integer()
    active = fields.Boolean()
    decision = fields.String(allow_none=True)
    job_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    activated_at = fields.DateTime(allow_none=True)


class ModelList(Schema):
    items = fields.List(fields.Nested(ModelOut))


@blp.post("/admin/retrain")
@blp.arguments(RetrainIn(), required=False)
@blp.response(202, JobEnvelope)
@require_roles("ops")
def retrain(body: dict[str, Any]) -> dict[str, Job]:
    session = db_session()
    job = jobs.enqueue(
        session=session,
        type="recommender.retrain",
        args={
            "algorithm": body.get("algorithm", "auto"),
            "params": body.get("params", {}),
            "force": body.get("force", False),
        },
        max_attempts=2,
    )
    session.commit()
    return {"job": job}


@blp.get("/admin/models")
@blp.response(200, ModelList)
@require_roles("ops")
def list_models() -> dict[str, list[RecModel]]:
    return {"items": recommender.list_models(session=db_session())}


@blp.post("/admin/models/<id:version>/activate")
@blp.response(200, ModelOut)
@require_roles("ops")
def activate(version: int) -> RecModel:
    session = db_session()
    model = recommender.activate(
        session=session, version=version, decision="activated by an operator"
    )
    session.commit()
    return model
