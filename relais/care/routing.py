"""Routing rules: conditions on an inbound message → assign, prioritise, tag, suggest a
template, lock, notify. Run by the ingest pipeline (`apply_rules`, after route_to_team),
explained when they cannot match (`explain`), and tried on last week's messages (`try_rule`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from relais.accounts.models import ANSWERING_ROLES, Membership, Organization, audit
from relais.care.models import (
    AgentSkill,
    AssignStrategy,
    AuthorFlag,
    AuthorProfile,
    ConversationTag,
    RoutingRule,
    RuleMatch,
)
from relais.care.selectors import available_agents
from relais.channels.models import Network
from relais.channels.pipeline import Batch
from relais.common.db import update_rows
from relais.common.timeutils import now
from relais.realtime.events import ConversationChanged, send_event_on_commit
from relais.triage.labels import LABELS

logger = logging.getLogger(__name__)

# The condition lists a rule may hold; inside one any value matches, all non-empty must.
CONDITION_FIELDS = (
    "networks",
    "accounts",
    "intents",
    "sentiments",
    "urgencies",
    "languages",
    "lines",  # GTFS route ids
    "author_flags",
    "monitors",  # listening monitor ids (listening.MonitorMatch, stored by its step before)
    "text_contains",
    "text_excludes",
)
# "Last week" for the rule tester, and how many messages it reads at most.
TRY_WINDOW = timedelta(days=7)
TRY_BOUND = 5000
TRY_EXAMPLES = 10
OPEN_STATUSES = ("new", "open", "pending")


def _fold_table() -> dict[int, str | None]:
    """Latin letters with diacritics → their base letters; lone combining marks dropped."""
    table: dict[int, str | None] = {}
    for code in range(0x00C0, 0x0250):
        base = "".join(
            c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c)
        )
        if base and base != chr(code):
            table[code] = base.casefold()
    for code in range(0x0300, 0x0370):
        table[code] = None
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Grève" and "greve" compare equal. A translation
    table, not a per-character loop: every inbound message is folded once per batch."""
    return text.casefold().translate(_FOLD)


# --- Conditions --------------------------------------------------------------------------


@dataclass
class Facts:
    """What the conditions look at, for one inbound message."""

    network: str
    account_id: int
    intent: str
    sentiment: str
    urgency: str
    lang: str
    lines: set[str]
    author_flags: set[str]
    monitors: set[int]
    text: str  # folded
    reach: int = 0


def clean_conditions(raw: dict[str, Any]) -> dict[str, list]:
    """Keep only known fields, as lists of strings (ids as ints), without blanks or
    duplicates; unknown keys are an error rather than ignored."""
    unknown = set(raw) - set(CONDITION_FIELDS)
    if unknown:
        raise ValidationError(
            _("Unknown condition: %(names)s.") % {"names": ", ".join(sorted(unknown))}
        )
    cleaned: dict[str, list] = {}
    for name in CONDITION_FIELDS:
        values = raw.get(name) or []
        if isinstance(values, str):
            values = [values]
        out: list = []
        for value in values:
            if name in ("accounts", "monitors"):
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise ValidationError(
                        _("%(field)s: %(value)s is not an id.") % {"field": name, "value": value}
                    ) from None
            else:
                value = str(value).strip()[:100]
                if not value:
                    continue
            if value not in out:
                out.append(value)
        if out:
            cleaned[name] = out
    return cleaned


@dataclass(frozen=True)
class Compiled:
    """A rule's conditions made ready once per batch: sets, folded words, cheapest first."""

    checks: tuple[tuple[str, frozenset], ...]  # (Facts attribute, allowed values)
    overlaps: tuple[tuple[str, frozenset], ...]  # (Facts attribute holding a set, wanted)
    contains: tuple[str, ...]
    excludes: tuple[str, ...]

    @property
    def needs_text(self) -> bool:
        return bool(self.contains or self.excludes)

    def test(self, facts: Facts) -> bool:
        for attribute, allowed in self.checks:
            if getattr(facts, attribute) not in allowed:
                return False
        for attribute, wanted in self.overlaps:
            if getattr(facts, attribute).isdisjoint(wanted):
                return False
        text = facts.text
        if self.contains and not any(w in text for w in self.contains):
            return False
        return not any(w in text for w in self.excludes)


def compile_conditions(conditions: dict[str, list]) -> Compiled:
    c = conditions or {}
    checks = tuple(
        (attribute, frozenset(c[name]))
        for name, attribute in (
            ("networks", "network"),
            ("accounts", "account_id"),
            ("intents", "intent"),
            ("sentiments", "sentiment"),
            ("urgencies", "urgency"),
            ("languages", "lang"),
        )
        if c.get(name)
    )
    overlaps = tuple(
        (attribute, frozenset(c[name]))
        for name, attribute in (
            ("lines", "lines"),
            ("author_flags", "author_flags"),
            ("monitors", "monitors"),
        )
        if c.get(name)
    )
    return Compiled(
        checks=checks,
        overlaps=overlaps,
        contains=tuple(fold(w) for w in c.get("text_contains", [])),
        excludes=tuple(fold(w) for w in c.get("text_excludes", [])),
    )


def matches(conditions: dict[str, list], facts: Facts) -> bool:
    return compile_conditions(conditions).test(facts)


# --- Explanations: a rule that cannot match says why -------------------------------------


@dataclass
class Problem:
    level: str  # "error": the rule can never match (or never act); "warning": partly
    text: str


@dataclass
class Explanation:
    problems: list[Problem] = field(default_factory=list)

    @property
    def never_matches(self) -> bool:
        return any(p.level == "error" for p in self.problems)

    def error(self, text: str) -> None:
        self.problems.append(Problem("error", text))

    def warning(self, text: str) -> None:
        self.problems.append(Problem("warning", text))


def explain(rule: RoutingRule, *, earlier: Iterable[RoutingRule] = ()) -> Explanation:
    """Contradictory or empty conditions, and actions that cannot be carried out."""
    from relais.channels.models import ChannelAccount
    from relais.transit.models import Route

    out = Explanation()
    c = rule.conditions or {}
    networks = set(c.get("networks", []))
    if networks - set(Network.values):
        out.warning(
            _("Unknown network(s): %(v)s.")
            % {"v": ", ".join(sorted(networks - set(Network.values)))}
        )
    if c.get("accounts"):
        accounts = list(
            ChannelAccount.objects.filter(
                organization_id=rule.organization_id, pk__in=c["accounts"]
            )
        )
        if len(accounts) < len(c["accounts"]):
            out.warning(_("Some chosen accounts no longer exist."))
        usable = [a for a in accounts if not networks or a.network in networks]
        for a in accounts:
            if a not in usable:
                out.warning(
                    _(
                        "The account %(account)s is on %(network)s, which the rule's networks exclude."
                    )
                    % {"account": a.name, "network": a.get_network_display()}
                )
        if not usable:
            out.error(
                _("No chosen account is on one of the chosen networks: the rule can never match.")
            )
    for name, label_key in (
        ("intents", "intent"),
        ("sentiments", "sentiment"),
        ("urgencies", "urgency"),
    ):
        values = set(c.get(name, []))
        unknown = values - set(LABELS[label_key])
        if values and unknown == values:
            out.error(
                _(
                    "%(field)s: none of %(values)s is a value triage gives: the rule can never match."
                )
                % {"field": name, "values": ", ".join(sorted(values))}
            )
        elif unknown:
            out.warning(
                _("%(field)s: unknown %(values)s.")
                % {"field": name, "values": ", ".join(sorted(unknown))}
            )
    flags = set(c.get("author_flags", []))
    if flags - set(AuthorFlag.values):
        out.error(
            _("Unknown author flag(s): %(v)s.")
            % {"v": ", ".join(sorted(flags - set(AuthorFlag.values)))}
        )
    if c.get("lines"):
        known = set(
            Route.objects.filter(
                organization_id=rule.organization_id, gtfs_id__in=c["lines"]
            ).values_list("gtfs_id", flat=True)
        )
        if not known:
            out.error(_("None of the chosen lines is on the network: the rule can never match."))
        elif len(known) < len(c["lines"]):
            out.warning(_("Some chosen lines are not on the network any more."))
    contains = c.get("text_contains", [])
    excludes = [fold(w) for w in c.get("text_excludes", [])]
    blocked = [w for w in contains if any(x in fold(w) for x in excludes)]
    if contains and len(blocked) == len(contains):
        out.error(
            _(
                "Every word the text must contain (%(words)s) contains a word it must not: "
                "the rule can never match."
            )
            % {"words": ", ".join(blocked)}
        )
    elif blocked:
        out.warning(
            _("These words can never match, they contain an excluded word: %(words)s.")
            % {"words": ", ".join(blocked)}
        )
    if not any(c.get(name) for name in CONDITION_FIELDS):
        out.warning(_("No condition: the rule matches every inbound message."))
    # Actions.
    if rule.strategy == AssignStrategy.AGENT and rule.agent_id is None:
        out.error(_("Assignment to an agent is chosen but no agent is."))
    if rule.strategy in (AssignStrategy.ROUND_ROBIN, AssignStrategy.LEAST_LOADED):
        if rule.team_id is None:
            out.error(_("Round-robin and least-loaded pick among a team's agents: choose a team."))
        elif not Membership.objects.filter(
            organization_id=rule.organization_id, teams=rule.team_id, role__in=ANSWERING_ROLES
        ).exists():
            out.error(
                _("The team %(team)s has nobody who can answer: conversations stay unassigned.")
                % {"team": rule.team}
            )
    agent_in_team = (
        rule.strategy != AssignStrategy.AGENT
        or not (rule.agent_id and rule.team_id)
        or Membership.objects.filter(
            organization_id=rule.organization_id, user_id=rule.agent_id, teams=rule.team_id
        ).exists()
    )
    if not agent_in_team:
        out.warning(_("The chosen agent is not in the chosen team."))
    if rule.lock and rule.template_id:
        out.warning(
            _("The rule locks the conversation for answers and also suggests a reply template.")
        )
    if c.get("monitors"):
        from relais.listening.models import Monitor

        known_monitors = set(
            Monitor.objects.filter(
                organization_id=rule.organization_id, pk__in=c["monitors"]
            ).values_list("pk", flat=True)
        )
        if not known_monitors:
            out.error(_("None of the chosen monitors exists: the rule can never match."))
        elif len(known_monitors) < len(c["monitors"]):
            out.warning(_("Some chosen monitors no longer exist."))
    for before in earlier:
        if (
            before.enabled
            and before.stop
            and not any((before.conditions or {}).get(name) for name in CONDITION_FIELDS)
        ):
            out.error(
                _(
                    "The earlier rule “%(name)s” matches every message and stops: this one is never reached."
                )
                % {"name": before.name}
            )
            break
    return out


def rules_with_explanations(*, organization_id: int) -> list[tuple[RoutingRule, Explanation]]:
    rules = list(
        RoutingRule.objects.filter(organization_id=organization_id)
        .select_related("team", "agent", "template")
        .order_by("position", "pk")
    )
    return [(rule, explain(rule, earlier=rules[:i])) for i, rule in enumerate(rules)]


# --- Assignment --------------------------------------------------------------------------


def candidates(*, organization: Organization, team_id: int, lang: str, at: datetime) -> list[int]:
    """Available agents of the team who can answer and speak the language, by user id."""
    available = set(available_agents(organization=organization, at=at, team_id=team_id))
    members = set(
        Membership.objects.filter(
            organization=organization,
            teams=team_id,
            role__in=ANSWERING_ROLES,
            user_id__in=available,
        ).values_list("user_id", flat=True)
    )
    if lang:
        skills = {
            s.user_id: s.languages
            for s in AgentSkill.objects.filter(organization=organization, user_id__in=members)
        }
        members = {u for u in members if lang in skills.get(u, [organization.language])}
    return sorted(members)


def open_load(user_ids: Iterable[int], organization_id: int) -> dict[int, int]:
    from relais.inbox.models import Conversation

    counts = dict(
        Conversation.objects.filter(
            organization_id=organization_id,
            assignee_id__in=list(user_ids),
            status__in=OPEN_STATUSES,
        )
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    return {u: counts.get(u, 0) for u in user_ids}


def pick_agent(
    rule: RoutingRule, pool: list[int], load: dict[int, int] | None = None
) -> int | None:
    if not pool:
        return None
    if rule.strategy == AssignStrategy.ROUND_ROBIN:
        after = [u for u in pool if rule.last_assigned_id is not None and u > rule.last_assigned_id]
        return (after or pool)[0]
    if rule.strategy == AssignStrategy.LEAST_LOADED:
        load = load or {}
        return min(pool, key=lambda u: (load.get(u, 0), u))
    return None


# --- The pipeline step -------------------------------------------------------------------


def _monitor_matches(message_ids: list[int], monitor_ids: set[int] | None = None) -> dict:
    """message id -> the monitors that matched it (the listening step runs before ours)."""
    from relais.listening.models import MonitorMatch

    found: dict[int, set[int]] = defaultdict(set)
    qs = MonitorMatch.objects.filter(message_id__in=message_ids)
    if monitor_ids is not None:
        qs = qs.filter(monitor_id__in=monitor_ids)
    for message_id, monitor_id in qs.values_list("message_id", "monitor_id"):
        found[message_id].add(monitor_id)
    return found


def _facts(
    item, flags: dict[int, set[str]], monitors: dict[int, set[int]], *, text: bool = True
) -> Facts:
    message, account = item.message, item.event.account
    return Facts(
        network=account.network,
        account_id=account.pk,
        intent=message.intent,
        sentiment=message.sentiment,
        urgency=message.urgency,
        lang=message.lang,
        lines={str(pair[1]) for pair in (message.triage or {}).get("lines", [])},
        author_flags=flags.get(message.author_id, set()),
        monitors=monitors.get(message.pk, set()) | {int(m) for m in item.extra.get("monitors", [])},
        text=fold(message.text) if text else "",
        reach=item.inbound.author.reach,
    )


def apply_rules(batch: Batch) -> None:
    """Each inbound message against its organisation's enabled rules, in order."""
    from relais.inbox.models import Conversation

    items = [i for i in batch.items if not i.skip and i.message is not None]
    if not items:
        return
    by_org: dict[int, list] = defaultdict(list)
    for item in items:
        by_org[item.message.organization_id].append(item)
    for org_id, org_items in by_org.items():
        rules = list(
            RoutingRule.objects.filter(organization_id=org_id, enabled=True)
            .prefetch_related("notify")
            .order_by("position", "pk")
        )
        if not rules:
            continue
        organization = org_items[0].event.account.organization
        contact_ids = {i.message.author_id for i in org_items}
        flags = {
            p.contact_id: set(p.flags)
            for p in AuthorProfile.objects.filter(contact_id__in=contact_ids)
        }
        # One query, and only when a rule asks about monitors.
        monitors = (
            _monitor_matches([i.message.pk for i in org_items])
            if any((r.conditions or {}).get("monitors") for r in rules)
            else {}
        )
        compiled = {rule.pk: compile_conditions(rule.conditions or {}) for rule in rules}
        needs_text = any(c.needs_text for c in compiled.values())
        notify = {rule.pk: list(rule.notify.all()) for rule in rules}
        t = now()
        loads: dict[int, dict[int, int]] = {}
        pools: dict[tuple[int, str], list[int]] = {}  # (team, language) -> candidates, per batch
        touched: dict[int, tuple[Conversation, set[str]]] = {}
        rule_matches: list[RuleMatch] = []
        tags: list[ConversationTag] = []
        notifications: list[tuple[RoutingRule, Conversation]] = []
        for item in org_items:
            facts = _facts(item, flags, monitors, text=needs_text)
            conversation = item.conversation
            for rule in rules:
                if not compiled[rule.pk].test(facts):
                    continue
                applied = _apply(rule, conversation, organization, t, loads, pools)
                fields = touched.setdefault(conversation.pk, (conversation, set()))[1]
                fields.update(a.split(":")[0] for a in applied if ":" in a)
                for tag in rule.tags:
                    tags.append(
                        ConversationTag(
                            conversation=conversation, name=tag, rule=rule, created_at=t
                        )
                    )
                if notify[rule.pk]:
                    notifications.append((rule, conversation))
                rule_matches.append(
                    RuleMatch(
                        rule=rule,
                        conversation=conversation,
                        message=item.message,
                        applied=applied,
                        created_at=t,
                    )
                )
                if rule.stop:
                    break
        changed = [c for c, fields in touched.values() if fields & SAVED_FIELDS]
        # One prepared UPDATE for all of them: the rules step runs on every ingest batch.
        update_rows(Conversation, changed, sorted(SAVED_FIELDS))
        for conversation in changed:
            send_event_on_commit(
                org_id, ConversationChanged(conversation_id=conversation.pk, change="routed")
            )
        RuleMatch.objects.bulk_create(rule_matches)
        ConversationTag.objects.bulk_create(tags, ignore_conflicts=True)
        for rule in {r.pk: r for r in rules if r.strategy == AssignStrategy.ROUND_ROBIN}.values():
            RoutingRule.objects.filter(pk=rule.pk).update(last_assigned_id=rule.last_assigned_id)
        for match in rule_matches:
            if any(a.startswith("locked_at") for a in match.applied):
                audit(
                    organization_id=org_id,
                    actor_id=None,
                    action="conversation.locked",
                    obj=match.conversation,
                    text=_("Rule “%(name)s”") % {"name": match.rule.name},
                    data={"rule": match.rule_id},
                )
        for rule, conversation in notifications:
            _notify_on_commit(rule, conversation)


SAVED_FIELDS = {"team", "assignee", "priority", "status", "locked_at", "lock_reason"}


def _apply(
    rule: RoutingRule,
    conversation,
    organization: Organization,
    t: datetime,
    loads: dict[int, dict[int, int]],
    pools: dict[tuple[int, str], list[int]],
) -> list[str]:
    """Carry out one rule's actions on the conversation object (saved by the caller); the
    returned trace lines start with the changed field's name."""
    applied: list[str] = []
    unowned = conversation.assignee_id is None
    if rule.team_id and unowned and conversation.team_id != rule.team_id:
        conversation.team_id = rule.team_id
        applied.append(f"team:{rule.team_id}")
    if unowned and rule.strategy == AssignStrategy.AGENT and rule.agent_id:
        conversation.assignee_id = rule.agent_id
        applied.append(f"assignee:{rule.agent_id}")
    elif unowned and rule.strategy in (AssignStrategy.ROUND_ROBIN, AssignStrategy.LEAST_LOADED):
        team_id = rule.team_id or conversation.team_id
        pool: list[int] = []
        if team_id:
            key = (team_id, conversation.lang)
            if key not in pools:
                pools[key] = candidates(
                    organization=organization, team_id=team_id, lang=conversation.lang, at=t
                )
            pool = pools[key]
        load = None
        if rule.strategy == AssignStrategy.LEAST_LOADED:
            load = loads.setdefault(team_id or 0, {})
            unknown = [u for u in pool if u not in load]
            if unknown:  # each agent's open conversations counted once per batch
                load.update(open_load(unknown, organization.pk))
        chosen = pick_agent(rule, pool, load)
        if chosen is None:
            applied.append("nobody available: left to the team")
        else:
            conversation.assignee_id = chosen
            applied.append(f"assignee:{chosen}")
            if load is not None:
                load[chosen] = load.get(chosen, 0) + 1
            rule.last_assigned_id = chosen
    if "assignee:" in " ".join(applied) and conversation.status == "new":
        conversation.status = "open"
        applied.append("status:open")
    if rule.priority is not None and conversation.priority != rule.priority:
        conversation.priority = rule.priority
        applied.append(f"priority:{rule.priority}")
    if rule.lock and conversation.locked_at is None:
        conversation.locked_at = t
        conversation.lock_reason = (_("Rule “%(name)s”") % {"name": rule.name})[:300]
        applied.append("locked_at:rule")
        applied.append("lock_reason:rule")
    if rule.tags:
        applied.append("tags " + ", ".join(rule.tags))
    if rule.template_id:
        applied.append(f"template {rule.template_id}")
    return applied


def _notify_on_commit(rule: RoutingRule, conversation) -> None:
    recipients = [u.email for u in rule.notify.all() if u.email]
    subject = _("Relais: rule “%(rule)s” matched a message") % {"rule": rule.name}
    body = "{}\n\n{}: {}/inbox/c/{}/".format(
        conversation.preview,
        _("Open it"),
        getattr(settings, "RELAIS_BASE_URL", "").rstrip("/"),
        conversation.pk,
    )

    def _send() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:  # a mail server down must not undo the routing
            logger.exception("routing rule %s: notification e-mail failed", rule.pk)

    if recipients:
        transaction.on_commit(_send)


# --- Trying a rule on last week's messages -----------------------------------------------


@dataclass
class TryResult:
    count: int
    scanned: int
    bounded: bool  # more messages than TRY_BOUND in the window: the newest were read
    examples: list  # Message objects
    since: datetime


def try_rule(*, rule: RoutingRule, at: datetime | None = None) -> TryResult:
    """What this rule would have matched in the last week: inbound messages of the rule's
    organisation only, pre-filtered in SQL, at most TRY_BOUND read, newest first."""
    from relais.inbox.models import Direction, Message

    at = at or now()
    since = at - TRY_WINDOW
    c = rule.conditions or {}
    qs = Message.objects.filter(
        organization_id=rule.organization_id,
        direction=Direction.IN,
        created_at__gte=since,
        created_at__lte=at,
    )
    sql = Q()
    for name, column in (
        ("intents", "intent"),
        ("sentiments", "sentiment"),
        ("urgencies", "urgency"),
        ("languages", "lang"),
    ):
        if c.get(name):
            sql &= Q(**{f"{column}__in": c[name]})
    if c.get("accounts"):
        sql &= Q(account_id__in=c["accounts"])
    if c.get("networks"):
        sql &= Q(account__network__in=c["networks"])
    qs = qs.filter(sql)
    # Plain tuples, not model instances: the tester reads up to TRY_BOUND rows per click.
    rows = list(
        qs.order_by("-created_at", "-pk").values_list(
            "pk",
            "account__network",
            "account_id",
            "intent",
            "sentiment",
            "urgency",
            "lang",
            "triage",
            "author_id",
            "text",
        )[: TRY_BOUND + 1]
    )
    bounded = len(rows) > TRY_BOUND
    rows = rows[:TRY_BOUND]
    # Flagged authors are few: all of the organisation's, rather than an IN of thousands.
    flags = {
        contact_id: set(values)
        for contact_id, values in AuthorProfile.objects.filter(
            organization_id=rule.organization_id
        ).values_list("contact_id", "flags")
    }
    matched_monitors: set[int] = set()
    if c.get("monitors"):
        from relais.listening.models import MonitorMatch

        matched_monitors = set(
            MonitorMatch.objects.filter(
                monitor__organization_id=rule.organization_id,
                monitor_id__in=c["monitors"],
                created_at__gte=since,
                created_at__lte=at,
            ).values_list("message_id", flat=True)
        )
    found: list[int] = []
    test = compile_conditions(c)
    wants_text = test.needs_text
    for pk, network, account_id, intent, sentiment, urgency, lang, triage, author_id, text in rows:
        facts = Facts(
            network=network,
            account_id=account_id,
            intent=intent,
            sentiment=sentiment,
            urgency=urgency,
            lang=lang,
            lines={str(pair[1]) for pair in (triage or {}).get("lines", [])},
            author_flags=flags.get(author_id, set()) if author_id else set(),
            # Any of the rule's monitors matched it is all the condition asks.
            monitors=set(c.get("monitors", [])) if pk in matched_monitors else set(),
            text=fold(text) if wants_text else "",
        )
        if test.test(facts):
            found.append(pk)
    examples = list(
        Message.objects.filter(pk__in=found[:TRY_EXAMPLES])
        .select_related("account", "author")
        .order_by("-created_at", "-pk")
    )
    return TryResult(
        count=len(found),
        scanned=len(rows),
        bounded=bounded,
        examples=examples,
        since=since,
    )


# --- Writes on rules (called by the views and the API) -----------------------------------


@transaction.atomic
def rule_save(
    *,
    membership: Membership,
    rule: RoutingRule | None,
    name: str,
    conditions: dict[str, Any],
    stop: bool,
    enabled: bool,
    team_id: int | None,
    strategy: str,
    agent_id: int | None,
    priority: int | None,
    tags: list[str],
    template_id: int | None,
    lock: bool,
    notify_ids: list[int],
) -> RoutingRule:
    from relais.accounts.models import Role
    from relais.accounts.permissions import require_role

    require_role(membership, {Role.ADMIN, Role.SUPERVISOR})
    name = name.strip()[:200]
    if not name:
        raise ValidationError(_("A rule needs a name."))
    if strategy not in AssignStrategy.values:
        raise ValidationError(_("Unknown assignment strategy."))
    cleaned = clean_conditions(conditions)
    created = rule is None
    if rule is None:
        last = (
            RoutingRule.objects.filter(organization_id=membership.organization_id)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        rule = RoutingRule(
            organization_id=membership.organization_id,
            position=(last or 0) + 10,
            created_by=membership.user,
        )
    rule.name, rule.conditions, rule.stop, rule.enabled = name, cleaned, stop, enabled
    rule.team_id, rule.strategy, rule.agent_id, rule.priority = (
        team_id,
        strategy,
        agent_id,
        priority,
    )
    rule.tags = sorted({t.strip().lower()[:40] for t in tags if t.strip()})
    rule.template_id, rule.lock = template_id, lock
    rule.save()
    rule.notify.set(notify_ids)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="routing.rule_created" if created else "routing.rule_changed",
        obj=rule,
        text=rule.name,
        data={"conditions": cleaned},
    )
    return rule


@transaction.atomic
def rule_delete(*, membership: Membership, rule: RoutingRule) -> None:
    from relais.accounts.models import Role
    from relais.accounts.permissions import require_role

    require_role(membership, {Role.ADMIN, Role.SUPERVISOR})
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="routing.rule_deleted",
        obj=rule,
        text=rule.name,
    )
    rule.delete()


@transaction.atomic
def rule_move(*, membership: Membership, rule: RoutingRule, up: bool) -> None:
    """Swap with the neighbour above or below; positions are renumbered 10, 20, 30…"""
    from relais.accounts.models import Role
    from relais.accounts.permissions import require_role

    require_role(membership, {Role.ADMIN, Role.SUPERVISOR})
    rules = list(
        RoutingRule.objects.select_for_update()
        .filter(organization_id=membership.organization_id)
        .order_by("position", "pk")
    )
    i = next(k for k, r in enumerate(rules) if r.pk == rule.pk)
    j = i - 1 if up else i + 1
    if 0 <= j < len(rules):
        rules[i], rules[j] = rules[j], rules[i]
    for k, r in enumerate(rules):
        if r.position != (k + 1) * 10:
            r.position = (k + 1) * 10
            r.save(update_fields=["position"])
