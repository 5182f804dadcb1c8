"""manage.py team_key_create: the team key where the settings look for it, never over an
existing one."""

from __future__ import annotations

import stat

import pytest
from django.core.management import CommandError, call_command

from pgpmail import key_inspect


def test_it_writes_the_secret_key_passphrase_and_public_key_and_refuses_to_overwrite(
    settings, tmp_path, capsys
):
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "team.asc"
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = tmp_path / "team.passphrase"
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = tmp_path / "team.pub.asc"

    call_command("team_key_create", "--email", "security@example.org")

    for path in (settings.HAULOUT_TEAM_KEY_FILE, settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    facts = key_inspect(armored=settings.HAULOUT_TEAM_PUBLIC_KEY_FILE.read_text())
    assert facts.fingerprint in capsys.readouterr().out
    before = settings.HAULOUT_TEAM_KEY_FILE.read_bytes()
    with pytest.raises(CommandError, match="No key was made"):
        call_command("team_key_create")
    assert settings.HAULOUT_TEAM_KEY_FILE.read_bytes() == before
