"""Ingest pipeline steps of the inbox: normalise into contacts, messages and conversations,
route to the account's team, tell the browsers. Every step works on a whole batch with a
fixed number of queries, whatever the batch size."""

from __future__ import annotations

import time
from collections import defaultdict

from relais.channels.contract import MessageKind
from relais.channels.pipeline import Batch, BatchItem
from relais.common.db import update_rows
from relais.inbox.models import Contact, Conversation, Direction, Message, Status
from relais.realtime.events import InboxChanged, send_event_on_commit

PREVIEW_LENGTH = 200


def thread_key(item: BatchItem) -> str:
    inbound = item.inbound
    if inbound.kind == MessageKind.DM:
        return f"dm:{inbound.author.external_id}"
    root = inbound.thread_id or inbound.external_id
    return f"t:{root}:{inbound.author.external_id}"


def _contacts(items: list[BatchItem]) -> dict[tuple[int, str, str], Contact]:
    keys = {
        (i.event.account.organization_id, i.event.account.network, i.inbound.author.external_id): i
        for i in items
    }
    by_org: dict[tuple[int, str], set[str]] = defaultdict(set)
    for org_id, network, ext in keys:
        by_org[(org_id, network)].add(ext)

    def load() -> dict[tuple[int, str, str], Contact]:
        found = {}
        for (org_id, network), ext_ids in by_org.items():
            for c in Contact.objects.filter(
                organization_id=org_id, network=network, external_id__in=ext_ids
            ):
                found[(org_id, network, c.external_id)] = c
        return found

    found = load()
    missing = []
    for key, item in keys.items():
        if key not in found:
            author, t = item.inbound.author, item.inbound.created_at
            missing.append(
                Contact(
                    organization_id=key[0],
                    network=key[1],
                    external_id=key[2],
                    handle=author.handle,
                    display_name=author.display_name,
                    reach=author.reach,
                    first_seen_at=t,
                    last_seen_at=t,
                )
            )
    if missing:
        Contact.objects.bulk_create(missing, ignore_conflicts=True)
        found = load()
    return found


def thread_messages(batch: Batch) -> None:
    items = [i for i in batch.items if not i.skip]
    if not items:
        return
    # A raw event re-processed after a crash may already have its message: skip it.
    by_account: dict[int, list[BatchItem]] = defaultdict(list)
    for item in items:
        by_account[item.event.account_id].append(item)
    for account_id, account_items in by_account.items():
        existing = set(
            Message.objects.filter(
                account_id=account_id,
                external_id__in=[i.inbound.external_id for i in account_items],
            ).values_list("external_id", flat=True)
        )
        for item in account_items:
            if item.inbound.external_id in existing:
                item.skip = True
    items = [i for i in items if not i.skip]
    if not items:
        return

    contacts = _contacts(items)

    # Conversations: load the existing threads, create the missing ones.
    wanted: dict[tuple[int, str], BatchItem] = {}
    for item in items:
        wanted.setdefault((item.event.account_id, thread_key(item)), item)

    def load_conversations() -> dict[tuple[int, str], Conversation]:
        result = {}
        for account_id in {k[0] for k in wanted}:
            keys = [k[1] for k in wanted if k[0] == account_id]
            for c in Conversation.objects.filter(account_id=account_id, thread_key__in=keys):
                result[(account_id, c.thread_key)] = c
        return result

    conversations = load_conversations()
    new_keys = [k for k in wanted if k not in conversations]
    if new_keys:
        fresh = []
        for key in new_keys:
            item = wanted[key]
            account, inbound = item.event.account, item.inbound
            contact = contacts[
                (account.organization_id, account.network, inbound.author.external_id)
            ]
            fresh.append(
                Conversation(
                    organization_id=account.organization_id,
                    account_id=account.pk,
                    contact=contact,
                    thread_key=key[1],
                    thread_external_id=inbound.thread_id or inbound.external_id,
                    is_private=inbound.kind == MessageKind.DM,
                    status=Status.NEW,
                    first_message_at=inbound.created_at,
                    last_activity_at=inbound.created_at,
                )
            )
        Conversation.objects.bulk_create(fresh, ignore_conflicts=True)
        conversations = load_conversations()
    new_set = set(new_keys)

    messages = []
    for item in items:
        account, inbound = item.event.account, item.inbound
        key = (account.pk, thread_key(item))
        conversation = conversations[key]
        contact = contacts[(account.organization_id, account.network, inbound.author.external_id)]
        item.conversation = conversation
        item.new_conversation = key in new_set
        item.message = Message(
            organization_id=account.organization_id,
            account_id=account.pk,
            conversation=conversation,
            direction=Direction.IN,
            kind=str(inbound.kind),
            external_id=inbound.external_id,
            thread_external_id=inbound.thread_id,
            reply_to_external_id=inbound.reply_to_id,
            author=contact,
            text=inbound.text,
            raw=inbound.raw,
            created_at=inbound.created_at,
        )
        messages.append(item.message)
    Message.objects.bulk_create(messages)

    # Contacts and conversations: counters, times, reopen a closed thread.
    touched_contacts: dict[int, Contact] = {}
    touched_conversations: dict[int, Conversation] = {}
    for item in items:
        inbound, contact, conversation = item.inbound, item.message.author, item.conversation
        contact.handle = inbound.author.handle
        contact.display_name = inbound.author.display_name or contact.display_name
        contact.reach = inbound.author.reach or contact.reach
        contact.last_seen_at = max(contact.last_seen_at, inbound.created_at)
        contact.message_count += 1
        touched_contacts[contact.pk] = contact
        conversation.message_count += 1
        conversation.last_activity_at = max(conversation.last_activity_at, inbound.created_at)
        conversation.last_inbound_at = max(
            conversation.last_inbound_at or inbound.created_at, inbound.created_at
        )
        conversation.preview = inbound.text[:PREVIEW_LENGTH]
        if conversation.status in (Status.CLOSED, Status.PENDING):
            conversation.status = Status.OPEN
            conversation.closed_at = None
        touched_conversations[conversation.pk] = conversation
    update_rows(
        Contact,
        touched_contacts.values(),
        ["handle", "display_name", "reach", "last_seen_at", "message_count"],
    )
    update_rows(
        Conversation,
        touched_conversations.values(),
        ["message_count", "last_activity_at", "last_inbound_at", "preview", "status", "closed_at"],
    )


def route_to_team(batch: Batch) -> None:
    """A new conversation goes to its account's default team (routing rules refine this)."""
    by_team: dict[int, list[int]] = defaultdict(list)
    for item in batch.items:
        if item.skip or not item.new_conversation:
            continue
        team_id = item.event.account.default_team_id
        if team_id and item.conversation.team_id is None:
            item.conversation.team_id = team_id
            by_team[team_id].append(item.conversation.pk)
    for team_id, ids in by_team.items():
        Conversation.objects.filter(pk__in=ids, team__isnull=True).update(team_id=team_id)


def notify_clients(batch: Batch) -> None:
    by_org: dict[int, tuple[set[int], list[int]]] = defaultdict(lambda: (set(), []))
    for item in batch.items:
        if item.skip:
            continue
        conv_ids, msg_ids = by_org[item.event.account.organization_id]
        conv_ids.add(item.conversation.pk)
        msg_ids.append(item.message.pk)
    for org_id, (conv_ids, msg_ids) in by_org.items():
        send_event_on_commit(
            org_id,
            InboxChanged(
                conversation_ids=sorted(conv_ids), message_ids=msg_ids, sent_at=time.time()
            ),
        )
