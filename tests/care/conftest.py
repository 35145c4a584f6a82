import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages built outside a request (actions, explanations) are checked in English;
    pages keep the default French (LocaleMiddleware), as the UI tests check."""
    with translation.override("en"):
        yield
