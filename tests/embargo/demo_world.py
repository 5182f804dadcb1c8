"""Fixtures for the `demo` and `demo_decrypt` tests: every file the demo writes (team key,
demo secret keys, mail) goes under the test's own folder, never into var/."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from pgpmail import crypto

TEAM_FILES = ("team-key.asc", "team-key.passphrase", "team-key.pub.asc")


@pytest.fixture(scope="session", name="demo_team_key_cached")
def demo_team_key_cached_fixture(tmp_path_factory) -> Path:
    # Made once by the real generator; each test gets its own copy.
    folder = tmp_path_factory.mktemp("demo-team")
    crypto.team_key_generate(
        name="Demo security team",
        email="security@localhost",
        path=folder / "team-key.asc",
        passphrase_path=folder / "team-key.passphrase",
    )
    return folder


@pytest.fixture(name="demo_files")
def demo_files_fixture(settings, tmp_path, demo_team_key_cached):
    var = tmp_path / "var"
    var.mkdir()
    for name in TEAM_FILES:
        shutil.copy2(demo_team_key_cached / name, var / name)
    settings.VAR_DIR = var
    settings.HAULOUT_TEAM_KEY_FILE = var / "team-key.asc"
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = var / "team-key.passphrase"
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = var / "team-key.pub.asc"
    settings.EMAIL_FILE_PATH = var / "mail"
    # Short: gpg-agent's socket lives in the home and its path is length-limited.
    gpg_root = Path(tempfile.mkdtemp(prefix="hd-"))
    settings.GPG_HOME_ROOT = gpg_root
    crypto.worker_home_close()
    yield var
    crypto.worker_home_close()
    shutil.rmtree(gpg_root, ignore_errors=True)
