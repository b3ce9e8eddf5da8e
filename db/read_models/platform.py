"""Which platform a read model's keys describe.

Platforms that share a Redis (the test run's databases, two benches on one machine)
reuse row ids, so read-model keys carry a short hash of the database they mirror.
"""

from __future__ import annotations

import hashlib

from db.settings import Settings


def platform_of(settings: Settings) -> str:
    return hashlib.sha256(settings.resolved_database_url.encode()).hexdigest()[:12]
