"""Queue work only once the transaction that asked for it has committed."""

import json
from typing import Any

from django.db import transaction


def json_roundtrip(value: Any) -> Any:
    """Task arguments must survive JSON: this proves it in tests and in production alike."""
    return json.loads(json.dumps(value))


def enqueue_on_commit(task, *args: Any, delay: float | None = None) -> None:
    payload = json_roundtrip(list(args))

    def _send() -> None:
        if delay:
            task.schedule(args=tuple(payload), delay=delay)
        else:
            task(*payload)

    transaction.on_commit(_send)
