"""Fan-out of live events: in-process in embedded mode, Redis pub/sub across processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncGenerator
from functools import cache
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "relais:org:"


class LocalBroker:
    """Subscribers are asyncio queues in this process; publishers may be worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}

    def publish(self, organization_id: int, message: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(organization_id, ()))
        for loop, queue in targets:
            # A closed loop means the client is gone.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, message)

    async def subscribe(self, organization_id: int) -> AsyncGenerator[dict[str, Any], None]:
        queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.setdefault(organization_id, set()).add(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.get(organization_id, set()).discard(entry)

    def subscriber_count(self, organization_id: int) -> int:
        with self._lock:
            return len(self._subscribers.get(organization_id, ()))


class RedisBroker:
    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self._client = redis.Redis.from_url(url)

    def publish(self, organization_id: int, message: dict[str, Any]) -> None:
        try:
            self._client.publish(f"{CHANNEL_PREFIX}{organization_id}", json.dumps(message))
        except Exception:  # a live event lost is a refresh away; never fail the write
            logger.exception("could not publish a live event to Redis")

    async def subscribe(self, organization_id: int) -> AsyncGenerator[dict[str, Any], None]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url)
        pubsub = client.pubsub()
        await pubsub.subscribe(f"{CHANNEL_PREFIX}{organization_id}")
        try:
            async for item in pubsub.listen():
                if item.get("type") == "message":
                    yield json.loads(item["data"])
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()
            await client.aclose()


@cache
def get_broker() -> LocalBroker | RedisBroker:
    if settings.RELAIS_BROKER == "redis":
        return RedisBroker(settings.REDIS_URL)
    return LocalBroker()


def publish(organization_id: int, message: dict[str, Any]) -> None:
    get_broker().publish(organization_id, message)
