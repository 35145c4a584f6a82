"""The inbox, live, in a real browser: a citizen posts on the sandbox, an agent sees it
arrive without reloading, answers, and the citizen sees the answer. Hostile text stays text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import citizen_post, sign_in

pytestmark = pytest.mark.browser

X_ACCOUNT = "STAR sur X"
# Markup that must stay text, an emoji, right-to-left Hebrew ending in a right-to-left mark,
# and a zero-width joiner: what breaks escaping, counting and layout.
HOSTILE = (
    "<script>window.__pwned=1</script><b>bold?</b> La C4 circule ? 🚍 "
    "\u05e2\u05d1\u05e8\u05d9\u05ea\u200f zero\u200dwidth"
)


def _conversation_item(page, text: str):
    return page.locator("#conversation-list li.conv", has_text=text)


def test_citizen_post_appears_live_and_reply_reaches_citizen(new_context, screenshot):
    agent = new_context().new_page()
    sign_in(agent, "lea")
    # The page must be listening (its event stream open) before the post, or "live" proves nothing.
    with agent.expect_response(lambda r: r.url.endswith("/events/")):
        agent.goto("/inbox/")
    agent.evaluate("window.__sameDocument = true")

    citizen = new_context().new_page()
    citizen_post(citizen, account=X_ACCOUNT, handle="maelle_rns", name="Maëlle", text=HOSTILE)
    expect(citizen.locator("#sandbox-posts")).to_contain_text("La C4 circule ?")

    # Live: the same document (no reload) shows the new conversation.
    item = _conversation_item(agent, "La C4 circule ?")
    expect(item).to_be_visible(timeout=20_000)
    assert agent.evaluate("window.__sameDocument") is True, "the inbox reloaded"
    assert agent.evaluate("typeof window.__pwned") == "undefined"
    expect(item.locator(".preview")).to_contain_text("<b>bold?</b>")
    assert item.locator("b, script").count() == 0
    expect(item).to_contain_text("@maelle_rns")
    screenshot(agent, "inbox-list")

    item.locator("a.conv-link").click()
    agent.wait_for_url(re.compile(r"/inbox/c/\d+/"))
    thread = agent.locator("#thread")
    expect(thread).to_contain_text("<script>window.__pwned=1</script>")
    expect(thread).to_contain_text("\u05e2\u05d1\u05e8\u05d9\u05ea")
    assert thread.locator("b, script").count() == 0
    assert agent.evaluate("typeof window.__pwned") == "undefined"

    reply = "Bonjour Maëlle, la C4 circule normalement ce matin. 🚍"
    agent.fill("#reply-text", reply)
    expect(agent.locator('[data-counter-for="reply-text"]')).to_contain_text(f"{len(reply)} / ")
    agent.click("form.composer button[type=submit]")
    outgoing = agent.locator("#thread li.msg.out", has_text="la C4 circule normalement")
    expect(outgoing).to_be_visible()
    expect(agent.locator("#reply-text")).to_have_value("")

    # The citizen's page polls every 2 s: the organisation's answer appears under the post.
    answer = citizen.locator(
        "#sandbox-posts article.post.reply.from-org", has_text="circule normalement"
    )
    expect(answer).to_be_visible(timeout=20_000)
    screenshot(citizen, "sandbox-timeline")

    screenshot(agent, "conversation-after-reply")

    # Delivered: the thread refreshes on the delivery event and says so, without a reload.
    state = outgoing.locator("[data-delivery-state]")
    try:
        expect(state).to_have_attribute("data-delivery-state", "sent", timeout=20_000)
    except AssertionError:
        live = state.get_attribute("data-delivery-state")
        agent.reload()
        stored = state.get_attribute("data-delivery-state")
        pytest.fail(
            f"the reply reached the citizen but the open conversation still says {live!r} "
            f"20 s later; after a reload it says {stored!r}: the live delivery event did "
            "not refresh the thread"
        )
    expect(state).to_have_text(re.compile(r"^\s*(sent|envoyé)\s*$", re.IGNORECASE))
    screenshot(agent, "conversation")


def test_two_agents_on_one_conversation_see_the_collision_warning(new_context, screenshot):
    citizen = new_context().new_page()
    citizen_post(
        citizen, account=X_ACCOUNT, handle="yann35", text="Collision test: le métro A est arrêté ?"
    )

    lea = new_context().new_page()
    sign_in(lea, "lea")
    lea.goto("/inbox/")
    item = _conversation_item(lea, "Collision test")
    expect(item).to_be_visible(timeout=20_000)
    item.locator("a.conv-link").click()
    lea.wait_for_url(re.compile(r"/inbox/c/\d+/"))
    url = lea.url

    hugo = new_context().new_page()
    sign_in(hugo, "hugo")
    hugo.goto(url)

    # Hugo sees Léa at once; Léa hears of Hugo through the live presence event.
    expect(hugo.locator(".collision")).to_contain_text("lea", timeout=20_000)
    expect(lea.locator(".collision")).to_contain_text("hugo", timeout=20_000)
    screenshot(hugo, "conversation-collision")


def test_inbox_on_a_phone(new_context, screenshot):
    citizen = new_context().new_page()
    citizen_post(
        citizen,
        account=X_ACCOUNT,
        handle="un_tres_long_pseudonyme_de_voyageur",
        text="Phone test: " + "très long message sans aucune coupure " * 6,
    )
    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    sign_in(page, "lea")
    page.goto("/inbox/")
    expect(_conversation_item(page, "Phone test")).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "inbox-phone")
    assert width <= 390, f"the inbox is {width}px wide on a 390px screen"
