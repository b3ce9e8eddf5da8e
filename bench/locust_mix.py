"""Locust users for bench/load_mix.py (run by it; not a standalone benchmark).

MixUser: a signed-in viewer in a closed loop with no think time: browse the home
page, open a title, report watching progress, rate, read recommendations. Its
weights follow what a viewer does most (reads, then progress, then the rest).
PingUser: the same loop on the minimal Flask endpoint (the ceiling).

The tokens and content ids come from the JSON file named by CBRTL_LOAD_DATA.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import FastHttpUser, constant, task

with open(os.environ["CBRTL_LOAD_DATA"]) as data_file:
    DATA: dict[str, Any] = json.load(data_file)
TOKENS: list[str] = DATA["tokens"]
CONTENT: list[int] = DATA["content"]
SCORES = [x / 2 for x in range(1, 11)]


class MixUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {random.choice(TOKENS)}"}

    def _content(self) -> int:
        return random.choice(CONTENT)

    @task(3)
    def home(self) -> None:
        self.client.get("/api/v1/homepage", headers=self.auth, name="GET /homepage")

    @task(4)
    def open_content(self) -> None:
        self.client.get(
            f"/api/v1/content/{self._content()}", headers=self.auth, name="GET /content/{id}"
        )

    @task(3)
    def progress(self) -> None:
        body = {"position_s": random.randint(0, 5400), "completed": False}
        self.client.post(
            f"/api/v1/content/{self._content()}/progress",
            json=body,
            headers=self.auth,
            name="POST /content/{id}/progress",
        )

    @task(2)
    def rate(self) -> None:
        self.client.put(
            f"/api/v1/content/{self._content()}/rating",
            json={"score": random.choice(SCORES)},
            headers=self.auth,
            name="PUT /content/{id}/rating",
        )

    @task(2)
    def recommendations(self) -> None:
        self.client.get(
            "/api/v1/recommendations?limit=20", headers=self.auth, name="GET /recommendations"
        )


class PingUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def ping(self) -> None:
        self.client.get("/ping", name="GET /ping (minimal Flask)")
