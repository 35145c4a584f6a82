"""The shared webhook signature and handshake checks."""

from relais.common.signing import hub_challenge, sign, signature_matches


def test_signature():
    body = b'{"messages": []}'
    good = sign(body, "s3cret")
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert signature_matches(body, "s3cret", good)
    assert signature_matches(body, "s3cret", good.upper().replace("SHA256=", "sha256="))
    assert not signature_matches(body + b" ", "s3cret", good)
    assert not signature_matches(body, "other", good)
    assert not signature_matches(body, "s3cret", good.removeprefix("sha256="))
    assert not signature_matches(body, "", sign(body, ""))


def test_hub_challenge():
    ok = {"hub.mode": "subscribe", "hub.verify_token": "t", "hub.challenge": "42"}
    assert hub_challenge("t", ok) == "42"
    assert hub_challenge("u", ok) is None
    assert hub_challenge("t", {**ok, "hub.mode": "unsubscribe"}) is None
