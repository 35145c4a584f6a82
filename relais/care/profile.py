"""Who is speaking: the author profile panel, its flags and signals, the answer advice with
its reasons, and the supervisor's "monitored, no answer" lock."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from relais.accounts.models import Membership, Role, audit
from relais.accounts.permissions import require_role
from relais.care.models import AuthorFlag, AuthorProfile
from relais.common.timeutils import now
from relais.inbox.models import Contact, Conversation, Direction, Message
from relais.realtime.events import ConversationChanged, send_event_on_commit

SUPERVISING_ROLES = {Role.ADMIN, Role.SUPERVISOR}
# An author whose audience is at least this large is a "large reach" signal.
LARGE_REACH = getattr(settings, "RELAIS_LARGE_REACH", 10_000)
# Polemic messages in the window that make "many polemic messages".
MANY_POLEMIC = 3
SIGNAL_WINDOW = timedelta(days=30)
HISTORY_BOUND = 500  # past messages read for the sentiment mix, newest first


class Advice:
    QUICKLY = "quickly"
    CAREFULLY = "carefully"
    DO_NOT_ANSWER = "do_not_answer"

    LABELS = {
        QUICKLY: gettext_lazy("Answer quickly"),
        CAREFULLY: gettext_lazy("Answer carefully"),
        DO_NOT_ANSWER: gettext_lazy("Do not answer (Streisand risk)"),
    }


@dataclass
class Profile:
    contact: Contact
    flags: list[str]
    flag_labels: list[str]
    note: str
    conversations: int  # with us, this one included
    messages_30d: int
    per_week: float  # messages a week since first seen
    sentiments: dict[str, int]  # over the newest HISTORY_BOUND inbound messages
    polemic_30d: int
    signals: list[str] = field(default_factory=list)
    advice: str = Advice.QUICKLY
    reasons: list[str] = field(default_factory=list)

    @property
    def advice_label(self) -> str:
        return str(Advice.LABELS[self.advice])


def _in_burst(conversation: Conversation) -> bool:
    """Part of a current burst: among the top authors of a listening alert not yet closed."""
    from relais.listening.models import Alert, AlertState

    handle = conversation.contact.handle.casefold()
    for authors in Alert.objects.filter(
        organization_id=conversation.organization_id,
        state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED],
    ).values_list("top_authors", flat=True)[:50]:
        for author in authors or []:
            if str(author.get("handle", "")).lstrip("@").casefold() == handle:
                return True
    return False


def author_profile(*, conversation: Conversation) -> Profile:
    contact = conversation.contact
    t = now()
    stored = AuthorProfile.objects.filter(contact=contact).first()
    flags = list(stored.flags) if stored else []
    mine = Message.objects.filter(
        organization_id=conversation.organization_id, author=contact, direction=Direction.IN
    )
    recent = list(
        mine.order_by("-created_at").values_list("sentiment", "intent", "created_at")[
            :HISTORY_BOUND
        ]
    )
    sentiments = Counter(s or "unknown" for s, _i, _t in recent)
    since = t - SIGNAL_WINDOW
    messages_30d = sum(1 for *_x, at in recent if at >= since)
    polemic_30d = sum(1 for _s, i, at in recent if i == "polemic" and at >= since)
    weeks = max((t - contact.first_seen_at).total_seconds() / (7 * 86400), 1.0)
    profile = Profile(
        contact=contact,
        flags=flags,
        flag_labels=[str(AuthorFlag(f).label) for f in flags if f in AuthorFlag.values],
        note=stored.note if stored else "",
        conversations=Conversation.objects.filter(
            organization_id=conversation.organization_id, contact=contact
        ).count(),
        messages_30d=messages_30d,
        per_week=round(contact.message_count / weeks, 1),
        sentiments=dict(sentiments),
        polemic_30d=polemic_30d,
    )
    if polemic_30d >= MANY_POLEMIC:
        profile.signals.append(_("%(n)d polemic messages in 30 days") % {"n": polemic_30d})
    if contact.reach >= LARGE_REACH:
        profile.signals.append(_("Large reach: %(n)d followers") % {"n": contact.reach})
    burst = _in_burst(conversation)
    if burst:
        profile.signals.append(_("Part of a current burst"))
    profile.advice, profile.reasons = advise(
        flags=set(flags),
        polemic_thread=conversation.intent == "polemic",
        many_polemic=polemic_30d >= MANY_POLEMIC,
        large_reach=contact.reach >= LARGE_REACH,
        in_burst=burst,
        urgency=conversation.urgency,
    )
    return profile


def advise(
    *,
    flags: set[str],
    polemic_thread: bool,
    many_polemic: bool,
    large_reach: bool,
    in_burst: bool,
    urgency: str,
) -> tuple[str, list[str]]:
    """The advice and every reason that led to it, strongest rule first."""
    careful, silent = [], []
    if AuthorFlag.JOURNALIST in flags:
        careful.append(_("A journalist: every word may be quoted; the press team may answer."))
    if AuthorFlag.ELECTED in flags:
        careful.append(_("An elected official: the answer may become a public position."))
    if AuthorFlag.INSTITUTION in flags:
        careful.append(_("An institution: answer in the organisation's official voice."))
    if AuthorFlag.VIP in flags:
        careful.append(_("Flagged VIP by a supervisor."))
    if large_reach:
        careful.append(_("A large audience will see the answer."))
    if AuthorFlag.POLITICISED in flags:
        silent.append(
            _(
                "Politicised / activist account: answering a polemic can make it blow up (Streisand effect)."
            )
        )
    if AuthorFlag.ABUSIVE in flags:
        silent.append(_("Flagged abusive: do not engage."))
    if polemic_thread and (many_polemic or in_burst):
        silent.append(
            _(
                "A polemic from an author who keeps at it or in a burst: an answer feeds it (Streisand effect)."
            )
        )
    if silent and not (flags & {AuthorFlag.JOURNALIST, AuthorFlag.ELECTED, AuthorFlag.INSTITUTION}):
        return Advice.DO_NOT_ANSWER, silent + careful
    if careful or silent:
        return Advice.CAREFULLY, careful + silent
    reasons = [_("An ordinary author: a quick, precise answer is what is expected.")]
    if urgency in ("safety", "blocking"):
        reasons.insert(0, _("The message reports a blocking or safety problem."))
    if AuthorFlag.FREQUENT in flags:
        reasons.append(_("A frequent correspondent."))
    return Advice.QUICKLY, reasons


@transaction.atomic
def profile_set_flags(
    *, contact: Contact, membership: Membership, flags: list[str], note: str = ""
) -> AuthorProfile:
    require_role(membership, SUPERVISING_ROLES)
    if contact.organization_id != membership.organization_id:
        raise ValidationError(_("No such author."))
    unknown = [f for f in flags if f not in AuthorFlag.values]
    if unknown:
        raise ValidationError(_("Unknown flag: %(flags)s.") % {"flags": ", ".join(unknown)})
    ordered = [f for f in AuthorFlag.values if f in set(flags)]
    profile, _created = AuthorProfile.objects.update_or_create(
        contact=contact,
        defaults={
            "organization_id": contact.organization_id,
            "flags": ordered,
            "note": note.strip()[:300],
            "updated_by": membership.user,
            "updated_at": now(),
        },
    )
    audit(
        organization_id=contact.organization_id,
        actor_id=membership.user_id,
        action="author.flags_set",
        obj=contact,
        text=", ".join(ordered),
        data={"flags": ordered, "note": profile.note},
    )
    for conversation_id in contact.conversations.values_list("pk", flat=True)[:50]:
        send_event_on_commit(
            contact.organization_id,
            ConversationChanged(
                conversation_id=conversation_id, change="profile", by_user_id=membership.user_id
            ),
        )
    return profile


@transaction.atomic
def conversation_lock(
    *, conversation: Conversation, membership: Membership, reason: str = ""
) -> Conversation:
    """ "Monitored, no answer": no reply leaves until a supervisor unlocks."""
    require_role(membership, SUPERVISING_ROLES)
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conversation.locked_at is not None:
        return conversation
    conversation.locked_at = now()
    conversation.locked_by = membership.user
    conversation.lock_reason = reason.strip()[:300] or _("Monitored, no answer")
    conversation.save(update_fields=["locked_at", "locked_by", "lock_reason"])
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="conversation.locked",
        obj=conversation,
        text=conversation.lock_reason,
    )
    send_event_on_commit(
        conversation.organization_id,
        ConversationChanged(
            conversation_id=conversation.pk, change="locked", by_user_id=membership.user_id
        ),
    )
    return conversation


@transaction.atomic
def conversation_unlock(*, conversation: Conversation, membership: Membership) -> Conversation:
    require_role(membership, SUPERVISING_ROLES)
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conversation.locked_at is None:
        return conversation
    reason = conversation.lock_reason
    conversation.locked_at, conversation.locked_by, conversation.lock_reason = None, None, ""
    conversation.save(update_fields=["locked_at", "locked_by", "lock_reason"])
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="conversation.unlocked",
        obj=conversation,
        text=reason,
    )
    send_event_on_commit(
        conversation.organization_id,
        ConversationChanged(
            conversation_id=conversation.pk, change="unlocked", by_user_id=membership.user_id
        ),
    )
    return conversation
