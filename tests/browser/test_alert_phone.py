"""The one-click alert on a traffic regulator's phone, in a real browser: pick the type and
the line, the approved phrase is filled in and previewed per network, one tap publishes,
and the publication page shows every network accepted and the time it took."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_regulator_publishes_an_alert_from_a_phone(new_context, screenshot):
    page = new_context(**PHONE).new_page()
    sign_in(page, "regulation")
    page.goto("/publishing/alert/")
    # Nothing chosen yet: the button says what is missing.
    button = page.locator("#publish-button")
    expect(button).to_be_disabled()
    page.locator("label", has_text=re.compile(r"^\s*Grève\s*$")).first.click()
    page.locator("input.line-filter").fill("c4")
    expect(page.locator("#line-pick label:visible")).to_have_count(1)
    page.locator("#line-pick label:visible").click()
    # htmx re-renders the preview: the strike phrase with C4, per network.
    preview = page.locator("#alert-preview")
    expect(preview).to_contain_text("Mouvement social ce matin")
    expect(preview).to_contain_text("lignes C4")
    expect(preview.locator(".preview-channel")).to_have_count(3)
    # Each network's count against its limit; one tap puts the short variant on X.
    x_channel = preview.locator(".preview-channel", has_text="STAR sur X")
    expect(x_channel).to_contain_text(re.compile(r"\d+ / 280"))
    x_channel.locator("input[name=short]").check()
    x_channel = preview.locator(".preview-channel", has_text="STAR sur X")
    expect(x_channel.locator(".text")).to_contain_text("Grève : trafic perturbé lignes C4")
    expect(button).to_be_enabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "wider than the phone"
    screenshot(page, "alert-phone-preview")

    button.click()
    page.wait_for_url(re.compile(r"/publishing/\d+/"))
    expect(page.locator("#publication-state")).to_have_text(
        re.compile("Publiée|Published"), timeout=20_000
    )
    expect(page.locator("#elapsed")).to_contain_text(" s")
    expect(page.locator(".targets li.sent")).to_have_count(3)
    screenshot(page, "alert-phone-published")

    # The incident it opened has the publication on its timeline, and the feed has it.
    page.locator("h1 a", has_text=re.compile("Grève")).click()
    page.wait_for_url(re.compile(r"/incidents/\d+/"))
    incident_url = page.url
    expect(page.locator(".timeline")).to_contain_text("Mouvement social ce matin")
    response = page.request.get("/o/star-rennes/gtfs-rt/alerts.pb?format=json")
    assert response.ok and "lignes C4" in response.text()

    # The supervisor watches the incident on a desktop; the regulator posts an update from
    # the phone: it appears on the supervisor's page without a reload.
    desk = new_context().new_page()
    sign_in(desk, "claire")
    with desk.expect_response(lambda r: r.url.endswith("/events/")):
        desk.goto(incident_url)
    desk.evaluate("window.__sameDocument = true")
    page.locator("a.primary-link, a", has_text=re.compile("^Publier$|^Publish$")).first.click()
    expect(page.locator("input[name=kind][value=update]")).to_be_checked()  # alert exists
    page.locator(
        ".pick label", has=page.locator("input[name=template]"), has_text="Point de situation"
    ).click()
    page.fill("input[name=v_eta]", "10h30")
    expect(page.locator("#alert-preview")).to_contain_text("normale prévu vers 10h30")
    expect(page.locator("#publish-button")).to_be_enabled()
    page.locator("#publish-button").click()
    page.wait_for_url(re.compile(r"/publishing/\d+/"))
    expect(desk.locator(".timeline")).to_contain_text("normale prévu vers 10h30", timeout=20_000)
    assert desk.evaluate("window.__sameDocument") is True, "the incident page reloaded"
    screenshot(desk, "incident-live-timeline")
