"""Inbox pages: validate input, fetch-and-authorise, call one action, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from relais.accounts.models import Membership
from relais.accounts.permissions import access_conversation, access_member, current_membership
from relais.channels.models import ChannelAccount
from relais.inbox import actions, selectors
from relais.inbox.models import Message, Status
from relais.triage import labels as triage_labels

PAGE_SIZE = 100


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _membership(request: HtmxHttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _filters(request: HtmxHttpRequest) -> selectors.ConversationFilters:
    g = request.GET
    return selectors.ConversationFilters(
        status=g.get("status", ""),
        account_id=_int(g.get("account")),
        team_id=_int(g.get("team")),
        mine=g.get("mine") == "1",
        unassigned=g.get("unassigned") == "1",
        q=g.get("q", "").strip()[:200],
        intent=g.get("intent", "")[:20],
        sentiment=g.get("sentiment", "")[:10],
        urgency=g.get("urgency", "")[:10],
        lang=g.get("lang", "")[:8],
        line_id=_int(g.get("line")),
    )


@login_required
def conversation_list_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = _membership(request)
    filters = _filters(request)
    page = selectors.conversation_page(membership=membership, filters=filters, limit=PAGE_SIZE)
    context = {
        "conversations": page.conversations,
        "total": page.total,
        "filters": filters,
        "statuses": Status.choices,
        # The filters' choices show names only: the accounts' credentials are not decrypted.
        "accounts": ChannelAccount.objects.filter(organization_id=membership.organization_id)
        .only("id", "name")
        .order_by("name"),
        "teams": membership.organization.teams.only("id", "organization_id", "name").order_by(
            "name"
        ),
        "members": Membership.objects.filter(
            organization_id=membership.organization_id
        ).select_related("user"),
        "query": request.GET.urlencode(),
        "intents": triage_labels.choices("intent"),
        "sentiments": triage_labels.choices("sentiment"),
        "urgencies": triage_labels.choices("urgency"),
    }
    if request.htmx and request.GET.get("fragment") == "list":
        # The live refresh (each new message) swaps the list only: no "by line" bar.
        return render(request, "inbox/_list.html", context)
    context["busy_lines"] = selectors.busy_lines(membership=membership)
    return render(request, "inbox/list.html", context)


def _conversation_context(membership: Membership, conversation) -> dict:
    messages = list(selectors.conversation_messages(conversation=conversation))
    notes = list(selectors.conversation_notes(conversation=conversation))
    timeline = sorted(
        [("message", m.created_at, m) for m in messages]
        + [("note", n.created_at, n) for n in notes],
        key=lambda entry: entry[1],
    )
    triage_fields = [
        (field, label, getattr(conversation, field), triage_labels.choices(field))
        for field, label in (
            ("intent", _("Intent")),
            ("sentiment", _("Sentiment")),
            ("urgency", _("Urgency")),
        )
    ]
    return {
        "conversation": conversation,
        "timeline": timeline,
        "others": selectors.contact_other_conversations(conversation=conversation),
        "members": Membership.objects.filter(organization_id=membership.organization_id)
        .select_related("user")
        .order_by("user__username"),
        "limit": conversation.account.message_length,
        "statuses": Status.choices,
        "can_answer": membership.can_answer,
        "triage_fields": triage_fields,
    }


@login_required
def conversation_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    return render(
        request, "inbox/conversation.html", _conversation_context(membership, conversation)
    )


@login_required
def thread_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    template = "inbox/_side.html" if request.GET.get("part") == "side" else "inbox/_thread.html"
    return render(request, template, _conversation_context(membership, conversation))


def _after_write(
    request: HtmxHttpRequest,
    membership: Membership,
    conversation_id: int,
    *,
    part: str = "thread",
    error: str = "",
    draft: str = "",
) -> HttpResponse:
    """htmx: the changed fragment (or the error where the composer shows it); without
    JavaScript: back to the page, or the page with the error and the draft kept."""
    conversation = access_conversation(membership, conversation_id)
    context = _conversation_context(membership, conversation)
    if request.htmx:
        if error:
            response = render(request, "inbox/_error.html", {"error": error})
            response["HX-Retarget"] = "#composer-error"
            response["HX-Reswap"] = "innerHTML"
            response["X-Relais-Error"] = "1"
            return response
        return render(
            request, "inbox/_side.html" if part == "side" else "inbox/_thread.html", context
        )
    if error:
        context.update(error=error, draft=draft)
        return render(request, "inbox/conversation.html", context, status=400)
    return redirect("inbox:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def reply_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    text = request.POST.get("text", "")
    try:
        message = actions.conversation_reply(
            conversation=conversation, membership=membership, text=text
        )
    except ValidationError as exc:
        return _after_write(
            request, membership, conversation_id, error=" ".join(exc.messages), draft=text
        )
    template_id = _int(request.POST.get("template"))
    if template_id:  # a saved reply was used (routing part): logged, linked to its incident
        from relais.care.replies import template_used

        template_used(message=message, membership=membership, template_id=template_id)
    return _after_write(request, membership, conversation_id)


@login_required
@require_POST
def assign_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    user_id = _int(request.POST.get("assignee"))
    assignee = access_member(membership, user_id) if user_id else None
    actions.conversation_assign(conversation=conversation, membership=membership, assignee=assignee)
    return _after_write(request, membership, conversation_id, part="side")


@login_required
@require_POST
def status_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    status = request.POST.get("status", "")
    if status not in Status.values:
        return HttpResponse("Unknown status.", status=400, content_type="text/plain")
    actions.conversation_set_status(
        conversation=conversation, membership=membership, status=Status(status)
    )
    return _after_write(request, membership, conversation_id, part="side")


@login_required
@require_POST
def note_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    try:
        actions.note_add(
            conversation=conversation, membership=membership, text=request.POST.get("text", "")
        )
    except ValidationError as exc:
        return _after_write(request, membership, conversation_id, error=" ".join(exc.messages))
    return _after_write(request, membership, conversation_id)


@login_required
@require_POST
def presence_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    if request.POST.get("leave"):
        actions.presence_leave(conversation=conversation, membership=membership)
        return HttpResponse(status=204)
    others = actions.presence_touch(conversation=conversation, membership=membership)
    viewers = Membership.objects.filter(
        organization_id=membership.organization_id, user_id__in=others
    ).select_related("user")
    return render(request, "inbox/_presence.html", {"viewers": viewers})


@login_required
@require_POST
def retry_view(request: HtmxHttpRequest, message_id: int) -> HttpResponse:
    membership = _membership(request)
    message = (
        Message.objects.filter(organization_id=membership.organization_id, pk=message_id)
        .select_related("delivery")
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    actions.message_retry(message=message, membership=membership)
    return _after_write(request, membership, message.conversation_id)


@login_required
@require_POST
def bulk_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = _membership(request)
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i]
    conversations = [access_conversation(membership, i) for i in ids[:500]]
    action = request.POST.get("action", "")
    assignee_id = _int(request.POST.get("assignee"))
    assignee = access_member(membership, assignee_id) if assignee_id else None
    try:
        actions.conversations_bulk(
            membership=membership, conversations=conversations, action=action, assignee=assignee
        )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    return redirect(f"/inbox/?{request.POST.get('query', '')}")


@login_required
@require_POST
def triage_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    """One select changed: that field is corrected (the others are sent along unchanged)."""
    from relais.triage.actions import triage_correct

    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    changed = [
        (field, request.POST[field])
        for field in ("intent", "sentiment", "urgency")
        if field in request.POST and request.POST[field] != getattr(conversation, field)
    ]
    try:
        for field, value in changed:
            triage_correct(
                conversation=conversation, membership=membership, field=field, value=value
            )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    return _after_write(request, membership, conversation_id, part="side")
