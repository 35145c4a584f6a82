"""The network side of the sandbox: a citizen posts, and the network pushes it to Relais as
a webhook would (through the one ingest entry point)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from relais.channels.ingest import ingest
from relais.channels.models import ChannelAccount
from relais.common.timeutils import now
from relais.connectors.sandbox.connector import SandboxConnector
from relais.connectors.sandbox.models import SandboxPost, post_id

MAX_TEXT = 100_000  # the sandbox is generous; Relais must cope with long texts


def citizen_post(
    *,
    account: ChannelAccount,
    handle: str,
    text: str,
    name: str = "",
    reach: int = 0,
    private: bool = False,
    reply_to: str = "",
    created_at: datetime | None = None,
) -> SandboxPost:
    handle = handle.strip().lstrip("@")
    if not handle:
        raise ValidationError("A handle is needed.")
    if not text.strip():
        raise ValidationError("The post is empty.")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"The post is longer than {MAX_TEXT} characters.")
    parent = None
    if reply_to:
        pid = post_id(reply_to)
        parent = SandboxPost.objects.filter(pk=pid, account=account).first() if pid else None
        if parent is None:
            raise ValidationError("The post answered does not exist.")
    with transaction.atomic():
        post = SandboxPost.objects.create(
            account=account,
            author_handle=handle,
            author_name=name.strip(),
            author_reach=max(reach, 0),
            is_private=private,
            correspondent=handle if private else "",
            text=text,
            reply_to=parent,
            thread_root=parent.root if parent else None,
            created_at=created_at or now(),
        )
        ingest(account=account, messages=[SandboxConnector.to_inbound(post)])
    return post


def public_timeline(
    account: ChannelAccount, limit: int = 100
) -> list[tuple[SandboxPost, list[SandboxPost]]]:
    """Root posts, newest first, each with its replies in order."""
    roots = list(
        SandboxPost.objects.filter(
            account=account, is_private=False, thread_root__isnull=True
        ).order_by("-created_at", "-pk")[:limit]
    )
    replies: dict[int, list[SandboxPost]] = {r.pk: [] for r in roots}
    for reply in SandboxPost.objects.filter(thread_root__in=roots).order_by("created_at", "pk"):
        replies[reply.root.pk].append(reply)
    return [(root, replies[root.pk]) for root in roots]


def private_thread(account: ChannelAccount, handle: str) -> list[SandboxPost]:
    return list(
        SandboxPost.objects.filter(
            account=account, is_private=True, correspondent__iexact=handle
        ).order_by("created_at", "pk")
    )


def private_correspondents(account: ChannelAccount) -> list[str]:
    return list(
        SandboxPost.objects.filter(account=account, is_private=True)
        .values_list("correspondent", flat=True)
        .distinct()
        .order_by("correspondent")
    )
