"""What a person does in the browser: sign in, post on the sandbox network as a citizen."""

from __future__ import annotations

DEMO_PASSWORD = "relais-demo"  # printed by `relais demo`: the demo's own


def sign_in(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/inbox/**")


def citizen_post(
    page, *, account: str, handle: str, text: str, name: str = "", reach: int = 100
) -> None:
    """Post publicly on the sandbox network, to the account whose name is `account`."""
    page.goto("/sandbox/")
    page.get_by_role("link", name=account).click()
    page.wait_for_selector("#sandbox-compose")
    page.fill("#sandbox-compose input[name=handle]", handle)
    if name:
        page.fill("#sandbox-compose input[name=name]", name)
    page.fill("#sandbox-compose input[name=reach]", str(reach))
    page.fill("#sandbox-compose textarea[name=text]", text)
    with page.expect_navigation():
        page.click("#sandbox-compose button[type=submit]")
