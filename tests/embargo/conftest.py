"""Fixtures for the embargo tests. The real-service ones (worker, Redis, SMTP) live in
realservices.py and are imported here so every test module can ask for them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from devsupport.keyring import agents_stop, people_keys
from devsupport.keyring import team_key as make_team_key


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Hundreds of people per test: the production hasher would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _healthy_worker():
    # What a worker process reported about its gpg lives in the cache and in the module;
    # each test starts from a healthy worker.
    from django.core.cache import cache

    from embargo.delivery import health as worker_health

    worker_health._reported = None
    cache.clear()
    yield
    worker_health._reported = None


def keys_cache_dir() -> Path:
    # One cache for all parallel test processes (each has its own VAR_DIR/<worker>): the
    # keys take a while to make, and devsupport.keyring fills a cache under a file lock.
    var_dir = Path(settings.VAR_DIR)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        var_dir = var_dir.parent
    return var_dir / "fanout-keys"


@pytest.fixture(scope="session")
def person_keys():
    """people_keys(n): the first n cached test people with real cv25519 keys. Tests
    decrypt in the cached homes, which starts their agents: stopped when the run ends."""
    used = []

    def get(count: int):
        used.append(keys_cache_dir())
        return people_keys(count, used[-1])

    yield get
    for cache_dir in set(used):
        agents_stop(cache_dir)


@pytest.fixture
def team_key(settings):
    """A real, passphrase-protected team signing key (cached), in the settings."""
    key_file, pass_file, fingerprint = make_team_key(keys_cache_dir())
    settings.HAULOUT_TEAM_KEY_FILE = key_file
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = pass_file
    return fingerprint


# The real-service fixtures (worker, Redis, SMTP sink), available to every module here.
from tests.embargo.realservices import (  # noqa: E402, F401
    private_redis,
    real_services,
    real_services_factory,
)
