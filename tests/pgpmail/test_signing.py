"""Detached signatures by the team key (pgpmail.signing), with the real gpg: what
team_sign_detached() makes, team_signature_check() and a plain `gpg --verify` accept,
and nothing else passes the check."""

from __future__ import annotations

import pytest

from pgpmail import TeamKeyError, team_sign_detached, team_signature_check
from tests.keys import gpg_home_run
from tests.keys.person import PersonKey
from tests.pgpmail import test_inbound as team_side

team_key_files = team_side.team_key_files
mail_team = team_side.mail_team

DATA = b"Haulout audit checkpoint\nday: 2026-12-04\nseq: 7\nhash: " + b"ab" * 32 + b"\n"


@pytest.fixture(scope="module")
def someone_else():
    person = PersonKey("mallory@example.net")
    yield person
    person.close()


def test_a_detached_signature_by_the_team_key_checks_out(mail_team):
    signature = team_sign_detached(data=DATA)

    assert signature.armored.startswith("-----BEGIN PGP SIGNATURE-----")
    assert signature.fingerprint == mail_team.fingerprint
    assert team_signature_check(data=DATA, signature=signature.armored) is True


def test_anyone_with_the_team_public_key_can_check_it_with_plain_gpg(mail_team, tmp_path):
    signature = team_sign_detached(data=DATA)
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "data.asc").write_text(signature.armored)
    person = PersonKey("auditor@example.net")
    try:
        gpg_home_run(person.home, "--import", stdin=mail_team.public.encode())
        # gpg_home_run raises unless gpg exits 0, which --verify does only for a good one.
        gpg_home_run(person.home, "--verify", str(tmp_path / "data.asc"), str(tmp_path / "data"))
    finally:
        person.close()


def test_a_signature_over_other_data_does_not_check_out(mail_team):
    signature = team_sign_detached(data=DATA)

    assert (
        team_signature_check(data=DATA.replace(b"seq: 7", b"seq: 8"), signature=signature.armored)
        is False
    )


def test_a_signature_by_another_key_does_not_check_out(mail_team, someone_else):
    forged = gpg_home_run(
        someone_else.home, "--armor", "--detach-sign", "--local-user", someone_else.fingerprint,
        stdin=DATA,
    ).decode()  # fmt: skip

    assert team_signature_check(data=DATA, signature=forged) is False


@pytest.mark.parametrize("signature", ["", "not a signature", "-----BEGIN PGP SIGNATURE-----\n"])
def test_garbage_is_not_a_good_signature(mail_team, signature):
    assert team_signature_check(data=DATA, signature=signature) is False


def test_signing_without_a_usable_team_key_fails_closed(mail_team, settings, tmp_path):
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = tmp_path / "wrong.passphrase"
    (tmp_path / "wrong.passphrase").write_text("not the passphrase\n")

    with pytest.raises(TeamKeyError):
        team_sign_detached(data=DATA)
