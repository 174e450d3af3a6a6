"""Hostile cell values for exports and bundles: formula starts, separators, line breaks, bidi."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from tests.support.databases import NOW
from tests.support.helpers import sample_event

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\tleading tab",
    "\rleading return",
    'quote " inside, and a comma',
    "line one\nline two\r\nline three",
    "emoji 🚀🔥 and snowman ☃",
    "right-to-left שלום عربى \u202eevil\u202c",
    "plain",
    "",
]


def hostile_events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for index in range(count):
        text = rng.choice(HOSTILE)
        event = sample_event(
            "model", "rename", properties={"old_name": text, "new_name": f"n{index}"}
        )
        event["subject"]["name"] = rng.choice(HOSTILE) or "x"
        event["actor"]["name"] = rng.choice(HOSTILE) or "y"
        event["project"] = {"id": f"prj-{index % 3}", "name": rng.choice(HOSTILE) or "z"}
        event["timestamp"] = (NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 20))).isoformat()
        events.append(event)
    return events
