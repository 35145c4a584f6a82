"""The sandbox connector: sends by writing to the sandbox network's store, idempotently.

Account config understood (for demos and failure tests):
  flavour: x | facebook | bluesky | mastodon   length limits like the real network
  outage: true                                  every send fails temporarily (network down)
  reject: "reason"                              every send is refused permanently
  pause_after_send: seconds                     the network stores the post, then waits
                                                before answering (kill-mid-send tests)
"""

from __future__ import annotations

import time

from django.db import IntegrityError, transaction

from relais.channels.contract import (
    Author,
    Capability,
    Connector,
    ConnectorError,
    InboundMessage,
    Limits,
    MessageKind,
    OutboundMessage,
    Receipt,
)
from relais.common.timeutils import now
from relais.connectors.sandbox.models import SandboxPost, post_id

FLAVOUR_LIMITS = {
    "x": Limits(message_length=280, direct_message_length=10_000),
    "bluesky": Limits(message_length=300, direct_message_length=1_000),
    "mastodon": Limits(message_length=500, direct_message_length=500),
    "facebook": Limits(message_length=8_000, direct_message_length=2_000),
}


class SandboxConnector(Connector):
    kind = "sandbox"
    label = "Sandbox"
    capabilities = frozenset(
        {
            Capability.WEBHOOK,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.DIRECT_MESSAGE,
            Capability.IDEMPOTENT_SEND,
        }
    )
    limits = FLAVOUR_LIMITS["x"]

    def effective_limits(self) -> Limits:
        return FLAVOUR_LIMITS.get(
            self.account.config.get("flavour", self.account.network), self.limits
        )

    def send(self, message: OutboundMessage) -> Receipt:
        config = self.account.config or {}
        if config.get("outage"):
            raise ConnectorError("sandbox network unreachable (simulated outage)", retry_after=None)
        if config.get("reject"):
            raise ConnectorError(f"refused by the network: {config['reject']}", permanent=True)
        existing = SandboxPost.objects.filter(idempotency_key=message.idempotency_key).first()
        if existing is not None:
            return self._receipt(existing)
        limits = self.effective_limits()
        limit = (
            limits.direct_message_length
            if message.kind == MessageKind.DM
            else limits.message_length
        )
        if limit and len(message.text) > limit:
            raise ConnectorError(f"text longer than {limit} characters", permanent=True)
        parent = None
        parent_id = post_id(message.reply_to_id) if message.reply_to_id else None
        if parent_id is not None:
            parent = SandboxPost.objects.filter(pk=parent_id, account=self.account).first()
        try:
            with transaction.atomic():
                post = SandboxPost.objects.create(
                    account=self.account,
                    author_handle=self.account.handle,
                    author_name=self.account.name,
                    from_organization=True,
                    is_private=message.kind == MessageKind.DM,
                    correspondent=message.recipient if message.kind == MessageKind.DM else "",
                    text=message.text,
                    reply_to=parent,
                    thread_root=parent.root if parent else None,
                    idempotency_key=message.idempotency_key,
                    created_at=now(),
                )
        except IntegrityError:
            # Two workers raced on the same key: the network kept the first.
            post = SandboxPost.objects.get(idempotency_key=message.idempotency_key)
        if config.get("pause_after_send"):
            # The post is on the network; our side has not heard back yet.
            time.sleep(float(config["pause_after_send"]))
        return self._receipt(post)

    def _receipt(self, post: SandboxPost) -> Receipt:
        return Receipt(
            external_id=post.external_id,
            url=f"/sandbox/{self.account.pk}/#p{post.pk}",
            thread_id=post.root.external_id,
        )

    @staticmethod
    def to_inbound(post: SandboxPost) -> InboundMessage:
        if post.is_private:
            kind = MessageKind.DM
        elif post.reply_to_id:
            kind = MessageKind.REPLY
        else:
            kind = MessageKind.MENTION
        return InboundMessage(
            external_id=post.external_id,
            kind=kind,
            author=Author(
                external_id=post.author_handle.lower(),
                handle=post.author_handle,
                display_name=post.author_name,
                reach=post.author_reach,
            ),
            text=post.text,
            created_at=post.created_at,
            thread_id="" if post.is_private else post.root.external_id,
            reply_to_id=post.reply_to.external_id if post.reply_to is not None else "",
            raw={"sandbox_post": post.pk},
        )
