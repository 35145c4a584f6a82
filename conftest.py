"""Shared fixtures: personas, inline task execution, the database in use."""

import os

import pytest
from django.db import connection

from relais.common.testing import make_personas


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher():
    """Production hashing takes ~1 s a user on purpose; tests need no such cost."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture
def personas(db):
    return make_personas()


@pytest.fixture(autouse=True)
def _huey_immediate(settings):
    """Tasks run inline (Huey's immediate mode, in memory), after the commit that queued them."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture
def client_as(client):
    """client_as(membership) -> a test client signed in as that persona."""

    def _login(membership):
        client.force_login(membership.user)
        return client

    return _login


def pytest_report_header(config):
    return f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}"


@pytest.fixture
def vendor(db):
    return connection.vendor
