"""The sandbox network's own store: what a citizen would see on the network."""

from django.db import models

from relais.channels.models import ChannelAccount


class SandboxPost(models.Model):
    # The organisation's account this post is addressed to, or written by.
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="sandbox_posts"
    )
    author_handle = models.CharField(max_length=200)
    author_name = models.CharField(max_length=200, blank=True)
    author_reach = models.PositiveIntegerField(default=0)
    from_organization = models.BooleanField(default=False)
    is_private = models.BooleanField(default=False)
    # For a private message: the citizen in the conversation (the other side).
    correspondent = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The network deduplicates sends on this key: a retried send returns the first post.
    idempotency_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Serves the public timeline and the private thread views.
            models.Index(fields=["account", "is_private", "-created_at"], name="sandbox_timeline"),
        ]

    def __str__(self) -> str:
        return f"@{self.author_handle}: {self.text[:40]}"

    @property
    def external_id(self) -> str:
        return f"sbx-{self.pk}"

    @property
    def root(self) -> "SandboxPost":
        return self.thread_root or self


def post_id(external_id: str) -> int | None:
    if external_id.startswith("sbx-") and external_id[4:].isdigit():
        return int(external_id[4:])
    return None
