"""The checked-in key fixtures can be regenerated, and the fresh ones behave the same;
gen_person_key makes usable keys quickly."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgpmail import keys as pgp
from tests.keys import (
    EXPIRING_SOON_NOW,
    KEYS_DIR,
    gen_person_key,
    gpg_decrypt,
    load,
    recipients_listed,
    subkey_ids,
)
from tests.keys.make_keys import FIXTURES, make


def verdict(armored: str, name: str):
    now = EXPIRING_SOON_NOW if name == "expiring-soon" else None
    try:
        report = pgp.key_inspect(armored=armored, now=now, account_email="good@example.org")
    except pgp.KeyRejected as refused:
        return ("refused", refused.message)
    return ("accepted", report.algorithm, report.uids, report.expires_at, report.warnings)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("keys")
    make(list(FIXTURES), out)
    return out


def test_every_checked_in_fixture_is_produced_by_the_generator(regenerated):
    checked_in = {path.name for path in KEYS_DIR.glob("*.asc")}
    assert checked_in == {path.name for path in regenerated.glob("*.asc")}
    assert sum(path.stat().st_size for path in KEYS_DIR.glob("*.asc")) < 1_000_000


@pytest.mark.parametrize("name", [name for name in FIXTURES if name != "good-cv25519"])
def test_a_regenerated_fixture_gets_the_same_verdict_as_the_checked_in_one(regenerated, name):
    fresh = (regenerated / f"{name}.asc").read_text()
    assert fresh != load(name) or name == "garbage"  # really made anew
    assert verdict(fresh, name) == verdict(load(name), name)


def test_the_regenerated_good_key_pair_works_together(regenerated):
    public = (regenerated / "good-cv25519.asc").read_text()
    secret = (regenerated / "good-cv25519.secret.asc").read_text()
    assert verdict(public, "good-cv25519") == verdict(load("good-cv25519"), "good-cv25519")
    report = pgp.key_inspect(armored=public)
    ciphertext = pgp.key_encrypt_to(
        armored=public, fingerprint=report.fingerprint, plaintext="pair"
    )
    code, plaintext, status = gpg_decrypt(ciphertext, secret=secret)
    assert (code, plaintext) == (0, b"pair"), status


def test_gen_person_key_makes_fresh_usable_keys(tmp_path):
    keys = [gen_person_key(tmp_path, f"person{i}@example.org") for i in range(10)]

    public, secret, fingerprint = keys[-1]
    report = pgp.key_inspect(armored=public, account_email="person9@example.org")
    assert report.fingerprint == fingerprint
    assert report.algorithm == "ed25519/cv25519"
    assert report.expires_at is None
    assert report.warnings == []
    assert len({fpr for _, _, fpr in keys}) == 10
    ciphertext = pgp.key_encrypt_to(armored=public, fingerprint=fingerprint, plaintext="hi")
    assert recipients_listed(ciphertext) == subkey_ids(public)
    code, plaintext, _ = gpg_decrypt(ciphertext, secret=secret)
    assert (code, plaintext) == (0, b"hi")
