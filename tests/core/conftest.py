"""Fixtures for the core tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from devsupport.keyring import team_key as make_team_key
from pgpmail import worker_home_close


@pytest.fixture
def team_key(settings):
    """A real, passphrase-protected team key (cached across runs) and a fresh gpg home."""
    var_dir = Path(django_settings.VAR_DIR)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        var_dir = var_dir.parent  # one cache for all parallel test processes
    key_file, pass_file, fingerprint = make_team_key(var_dir / "fanout-keys")
    root = tempfile.mkdtemp(prefix="hck-")  # short: gpg-agent's socket lives in the home
    settings.HAULOUT_TEAM_KEY_FILE = key_file
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = pass_file
    settings.GPG_HOME_ROOT = Path(root)
    worker_home_close()
    yield fingerprint
    worker_home_close()
    shutil.rmtree(root, ignore_errors=True)
