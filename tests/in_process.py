"""Run a job's Celery task in the test process, on the test's transaction and store:
the runner's claim, retry and success bookkeeping as a worker does it."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from celery import current_app

from db.job_types import job_type
from db.storage import Storage
from tasks import context


def on_test_services(monkeypatch: pytest.MonkeyPatch, session_factory: Any, store: Storage) -> None:
    """Point every loaded task module's session factory and storage at the test's."""
    for name, module in list(sys.modules.items()):
        if name.startswith("tasks.") and module is not context:
            if getattr(module, "session_factory", None) is context.session_factory:
                monkeypatch.setattr(module, "session_factory", lambda: session_factory)
            if getattr(module, "storage", None) is context.storage:
                monkeypatch.setattr(module, "storage", lambda: store)


def run_job(type_name: str, job_id: int) -> None:
    """Deliver the job's message once, as a worker would (its module must be imported)."""
    current_app.tasks[job_type(type_name).task](job_id)
