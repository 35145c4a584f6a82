"""The server-sent events endpoint: one stream per signed-in browser tab, for its organisation."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from relais.accounts.permissions import current_membership
from relais.realtime.broker import get_broker

KEEPALIVE_SECONDS = 15.0


def format_sse(message: dict) -> str:
    # json.dumps never emits a raw newline, so one data line is always enough.
    return f"event: {message['type']}\ndata: {json.dumps(message['data'])}\n\n"


async def _stream(organization_id: int) -> AsyncIterator[str]:
    yield "retry: 2000\n: connected\n\n"
    subscription: AsyncGenerator[dict, None] = get_broker().subscribe(organization_id)
    pending: asyncio.Task | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(subscription.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield ": keepalive\n\n"
                continue
            message = pending.result()
            pending = None
            yield format_sse(message)
    finally:
        if pending is not None:
            # Let the cancelled wait finish before closing the subscription: closing a
            # generator that is still inside __anext__ raises RuntimeError.
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                await pending
        await subscription.aclose()


async def events(request: HttpRequest) -> HttpResponseBase:
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Sign in first.", status=401, content_type="text/plain")
    membership = await sync_to_async(current_membership)(request, user)
    if membership is None:
        return HttpResponse("No organisation.", status=403, content_type="text/plain")
    response = StreamingHttpResponse(
        _stream(membership.organization_id), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
