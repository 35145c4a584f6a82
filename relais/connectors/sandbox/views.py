"""The sandbox's public pages: post as any citizen, see what the organisation answers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from relais.channels.models import ChannelAccount
from relais.connectors.sandbox import network


def _sandbox_accounts():
    return (
        ChannelAccount.objects.filter(kind="sandbox")
        .select_related("organization")
        .order_by("organization__name", "name")
    )


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/index.html", {"accounts": _sandbox_accounts()})


@require_http_methods(["GET", "POST"])
def timeline(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(ChannelAccount, pk=account_id, kind="sandbox")
    error = ""
    form = {
        "handle": request.COOKIES.get("sandbox_handle", ""),
        "name": "",
        "reach": "100",
        "text": "",
    }
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("handle", "name", "reach", "text", "reply_to")}
        private = request.POST.get("private") == "on"
        try:
            reach = int(form["reach"] or 0)
        except ValueError:
            reach = 0
        try:
            network.citizen_post(
                account=account,
                handle=form["handle"],
                name=form["name"],
                reach=reach,
                text=form["text"],
                private=private,
                reply_to=form.get("reply_to", ""),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            target = (
                f"/sandbox/{account.pk}/dm/{form['handle'].strip().lstrip('@')}/"
                if private
                else f"/sandbox/{account.pk}/"
            )
            response = redirect(target)
            response.set_cookie(
                "sandbox_handle", form["handle"].strip().lstrip("@"), samesite="Lax"
            )
            return response
    context = {
        "account": account,
        "accounts": _sandbox_accounts(),
        "form": form,
        "error": error,
        "correspondents": network.private_correspondents(account),
    }
    if request.headers.get("HX-Request") and request.GET.get("fragment") == "posts":
        return render(
            request, "sandbox/_posts.html", {**context, "threads": network.public_timeline(account)}
        )
    return render(
        request,
        "sandbox/timeline.html",
        {**context, "threads": network.public_timeline(account)},
        status=400 if error else 200,
    )


def private(request: HttpRequest, account_id: int, handle: str) -> HttpResponse:
    account = get_object_or_404(ChannelAccount, pk=account_id, kind="sandbox")
    context = {
        "account": account,
        "handle": handle,
        "posts": network.private_thread(account, handle),
    }
    if request.headers.get("HX-Request"):
        return render(request, "sandbox/_private_posts.html", context)
    return render(request, "sandbox/private.html", context)
