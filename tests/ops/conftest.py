"""The ops tests: a team key as operators make it (team_key_generate, with the encryption
subkey reporters encrypt to), a private Redis, and a real worker on REDIS_URL."""

from __future__ import annotations

import pytest

from pgpmail import crypto, team_key_generate
from tests.embargo.realservices import (  # noqa: F401
    private_redis,
    real_services,
    real_services_factory,
)


def team_key_files(directory, *, expire: str) -> dict:
    files = {
        "path": directory / "team.asc",
        "passphrase_path": directory / "team.pass",
        "public_path": directory / "team.pub.asc",
    }
    team_key_generate(name="Security team", email="security@example.org", expire=expire, **files)
    return files


@pytest.fixture(scope="session")
def _team_key_made(tmp_path_factory):
    return team_key_files(tmp_path_factory.mktemp("ops-team-key"), expire="3y")


@pytest.fixture
def team_key(settings, _team_key_made):
    """A team key valid for three years, in the settings."""
    settings.HAULOUT_TEAM_KEY_FILE = _team_key_made["path"]
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = _team_key_made["passphrase_path"]
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = _team_key_made["public_path"]
    yield
    crypto.worker_home_close()
