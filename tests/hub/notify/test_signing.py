"""Standard Webhooks signatures: the spec's vector, tampering, staleness, rotation, and
the consumer recipe in docs/alerting.md being the code the hub tests against."""

import base64
import inspect
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from hub.notify import InvalidSignature, new_secret, sign, signature_header, signing, verify

ALERTING = Path(__file__).resolve().parents[3] / "docs" / "alerting.md"
BODY = b'{"v":1,"transition":"opened"}'
MSG = "msg_0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4_1"

Verify = Callable[..., None]


def headers(secrets: list[str], timestamp: int, body: bytes = BODY) -> dict[str, str]:
    """The headers the hub sends for `body`, signed with `secrets`."""
    return {
        "webhook-id": MSG,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, MSG, timestamp, body),
    }


def recipe() -> tuple[str, dict[str, Any]]:
    """The Python block of docs/alerting.md that defines `verify`, and its namespace."""
    blocks = re.findall(r"```python\n(.*?)```", ALERTING.read_text(encoding="utf-8"), re.S)
    code = next(block for block in blocks if "def verify(" in block)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(ALERTING), "exec"), namespace)
    return code, namespace


def test_the_standard_webhooks_example_signature_is_reproduced() -> None:
    """The signature of the specification's example matches byte for byte."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_new_secrets_are_prefixed_random_and_long_enough() -> None:
    """A secret is `whsec_` + base64 of at least 24 random bytes, new each time."""
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) >= 24


def test_the_docs_recipe_is_the_hubs_verify_function() -> None:
    """docs/alerting.md shows `hub.notify.signing.verify` verbatim (the test runs it)."""
    code, _ = recipe()
    assert inspect.getsource(signing.verify) in code


@pytest.fixture(params=["hub", "docs"])
def check(request: pytest.FixtureRequest) -> Verify:
    """`verify` from the hub, and from the docs recipe: both must behave the same."""
    if request.param == "hub":
        return verify
    return recipe()[1]["verify"]  # type: ignore[no-any-return]


def _refused(check: Verify, secret: str, given: Mapping[str, str], body: bytes) -> bool:
    try:
        check(secret, given, body)
    except ValueError:  # InvalidSignature of either origin
        return True
    return False


def test_a_signed_body_verifies(check: Verify) -> None:
    """The headers the hub makes verify with the secret."""
    secret = new_secret()
    check(secret, headers([secret], int(time.time())), BODY)


def test_a_tampered_body_fails(check: Verify) -> None:
    """One byte changed in the body and the signature no longer matches."""
    secret = new_secret()
    given = headers([secret], int(time.time()))
    assert _refused(check, secret, given, BODY.replace(b"opened", b"closed"))


def test_a_stale_or_future_timestamp_fails(check: Verify) -> None:
    """A timestamp more than 5 minutes old (or ahead) is refused even if correctly signed."""
    secret = new_secret()
    now = int(time.time())
    assert _refused(check, secret, headers([secret], now - 301), BODY)
    assert _refused(check, secret, headers([secret], now + 301), BODY)
    check(secret, headers([secret], now - 290), BODY)


def test_another_secret_or_missing_headers_fail(check: Verify) -> None:
    """A signature made with another secret, or absent headers, do not verify."""
    secret = new_secret()
    now = int(time.time())
    assert _refused(check, secret, headers([new_secret()], now), BODY)
    assert _refused(check, secret, {"webhook-id": MSG}, BODY)
    assert _refused(check, secret, {**headers([secret], now), "webhook-timestamp": "x"}, BODY)


def test_during_rotation_each_secret_verifies_on_its_own(check: Verify) -> None:
    """Two signatures, space-separated: the new and the previous secret both verify."""
    new, previous = new_secret(), new_secret()
    given = headers([new, previous], int(time.time()))
    assert len(given["webhook-signature"].split(" ")) == 2
    check(new, given, BODY)
    check(previous, given, BODY)


def test_verify_raises_its_own_error() -> None:
    """The hub's verify raises `InvalidSignature`, a ValueError."""
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(new_secret(), headers([new_secret()], int(time.time())), BODY)
