"""pgpmail.crypto: notices are encrypted to exactly the pinned key, signed by the team,
wrapped as RFC 3156 PGP/MIME, and any doubt raises CryptoError."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from pgpmail import crypto
from pgpmail import keys as pgp
from pgpmail import mime as pgpmime
from tests.keys import (
    gpg_decrypt,
    gpg_list_packets,
    load,
    recipients_listed,
    subkey_ids,
)
from tests.keys.make_keys import Home

CANARY = "CANARY-7f3d-heap-overflow-in-unpacker"


@pytest.fixture(scope="module")
def generated_team_key():
    """One real team key per module, made by team_key_generate itself."""
    folder = Path(tempfile.mkdtemp(prefix="ht-"))
    key_file, pass_file = folder / "team-key.asc", folder / "team-key.passphrase"
    started = time.monotonic()
    fingerprint = crypto.team_key_generate(
        name="Example Security Team",
        email="security@example.org",
        path=key_file,
        passphrase_path=pass_file,
    )
    generated_in = time.monotonic() - started
    yield key_file, pass_file, fingerprint, generated_in
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def team(settings, generated_team_key):
    key_file, pass_file, fingerprint, _ = generated_team_key
    root = tempfile.mkdtemp(prefix="hc-")  # short: gpg-agent's socket lives in the home
    settings.HAULOUT_TEAM_KEY_FILE = key_file
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = pass_file
    settings.GPG_HOME_ROOT = Path(root)
    crypto.worker_home_close()
    yield fingerprint
    crypto.worker_home_close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def recipient():
    report = pgp.key_inspect(armored=load("good-cv25519"))
    return report.armored, report.fingerprint


def gpg_wrapper(folder: Path, body: str) -> str:
    """A stand-in gpg binary: a shell script around the real one."""
    real = shutil.which("gpg")
    script = folder / "gpg"
    script.write_text("#!/bin/sh\n" + body.replace("REAL", real))
    script.chmod(stat.S_IRWXU)
    return str(script)


def test_a_notice_decrypts_with_the_recipients_key_and_carries_the_team_signature(team, recipient):
    armored, fingerprint = recipient
    message = crypto.notice_encrypt_and_sign(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=CANARY.encode()
    )

    assert message.startswith(b"-----BEGIN PGP MESSAGE-----")
    assert CANARY.encode() not in message
    code, plaintext, status = gpg_decrypt(
        message,
        secret=load("good-cv25519.secret"),
        signer_public=crypto.team_public_key_armored(),
    )
    assert code == 0, status
    assert plaintext == CANARY.encode()
    assert re.search(rf"^\[GNUPG:\] VALIDSIG {team} ", status, re.MULTILINE)
    assert "[GNUPG:] GOODSIG" in status


def test_a_notice_has_one_session_key_packet_for_the_pinned_keys_encryption_subkey(team, recipient):
    armored, fingerprint = recipient
    message = crypto.notice_encrypt_and_sign(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
    )
    assert recipients_listed(message) == subkey_ids(armored)
    assert len(subkey_ids(armored)) == 1
    assert ":symkey enc packet:" not in gpg_list_packets(message)


def test_another_persons_key_cannot_decrypt_a_notice(team, recipient, settings):
    armored, fingerprint = recipient
    message = crypto.notice_encrypt_and_sign(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=CANARY.encode()
    )
    # The team's own secret key is in no position to read it either.
    code, plaintext, _ = gpg_decrypt(
        message, secret=Path(settings.HAULOUT_TEAM_KEY_FILE).read_text()
    )
    assert code != 0
    assert CANARY.encode() not in plaintext


@pytest.mark.parametrize("name", ["expired", "revoked", "revoked-subkey", "sign-only"])
def test_encrypting_to_an_unusable_key_raises(team, name):
    fingerprint = pgp_fingerprint(load(name))
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=load(name), fingerprint=fingerprint, plaintext=b"x"
        )


def pgp_fingerprint(armored: str) -> str:
    """The fixture's primary fingerprint, as gpg reads it (not through our own code)."""
    with Home() as home:
        home.gpg("--import", stdin=armored.encode())
        return home.fingerprints()[0]


def test_encrypting_to_a_fingerprint_that_is_not_the_keys_raises(team, recipient):
    armored, _ = recipient
    other = pgp.key_inspect(armored=load("good-rsa3072")).fingerprint
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(recipient_armored=armored, fingerprint=other, plaintext=b"x")


@pytest.mark.parametrize("fingerprint", ["", "ABCD", "Z" * 40, "<script>"])
def test_a_malformed_fingerprint_raises(team, recipient, fingerprint):
    armored, _ = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_a_missing_gpg_binary_raises(team, recipient, settings):
    settings.GPG_BINARY = "/nonexistent/bin/gpg"
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_a_bare_gpg_name_is_looked_up_on_the_path_once_not_on_every_run(team, settings):
    settings.GPG_BINARY = "gpg"
    home = crypto._home_get()

    command = crypto._seal_command(home, "/dev/fd/3")

    assert os.path.isabs(command[0])
    assert command[0] == shutil.which("gpg", path=os.environ.get("PATH", "/usr/bin:/bin"))


def test_a_gpg_binary_that_is_not_gpg_raises(team, recipient, settings, tmp_path):
    settings.GPG_BINARY = gpg_wrapper(tmp_path, "echo 'not gpg at all'\nexit 0\n")
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_a_gpg_that_adds_a_second_recipient_is_caught(team, recipient, settings, tmp_path):
    # If gpg (or its configuration) ever encrypted to anyone else as well, we refuse.
    extra = tmp_path / "extra.asc"
    extra.write_text(load("good-rsa3072"))
    settings.GPG_BINARY = gpg_wrapper(
        tmp_path,
        f'case " $* " in *" --encrypt "*) exec REAL "$@" --recipient-file {extra};; esac\n'
        'exec REAL "$@"\n',
    )
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError, match="exactly the pinned key"):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_a_gpg_failure_names_where_it_failed_and_the_error_code(
    team, recipient, settings, tmp_path
):
    # What a rare agent failure needs to be diagnosed from the copy's failure reason.
    settings.GPG_BINARY = gpg_wrapper(
        tmp_path,
        'case " $* " in *" --encrypt "*) cat > /dev/null\n'
        '  echo "[GNUPG:] BEGIN_SIGNING H8" >&2\n'
        '  echo "[GNUPG:] FAILURE sign 67108949" >&2; exit 2;; esac\n'
        'exec REAL "$@"\n',
    )
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError) as caught:
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=CANARY.encode()
        )

    assert str(caught.value) == "gpg did not encrypt: failure (sign, gpg error 67108949)"


def test_a_gpg_that_returns_nothing_is_caught(team, recipient, settings, tmp_path):
    settings.GPG_BINARY = gpg_wrapper(
        tmp_path,
        'case " $* " in *" --encrypt "*) REAL "$@" > /dev/null; exit 0;; esac\nexec REAL "$@"\n',
    )
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_a_wrong_team_passphrase_raises(team, recipient, settings, tmp_path):
    wrong = tmp_path / "wrong.passphrase"
    wrong.write_text("not-the-passphrase\n")
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = wrong
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def _agents_in(root: Path) -> list[str]:
    """Command lines of live gpg-agent processes whose home is under `root`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"gpg-agent") and str(root).encode() in b" ".join(args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


def test_a_home_that_fails_half_way_leaves_no_folder_and_no_agent(team, settings, tmp_path):
    # The wrong passphrase is found at the last step, after the import started an agent.
    wrong = tmp_path / "wrong.passphrase"
    wrong.write_text("not-the-passphrase\n")
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = wrong
    root = Path(settings.GPG_HOME_ROOT)

    assert crypto.worker_home_prepare() is False

    assert not list(root.glob(f"worker-{os.getpid()}-*"))
    deadline = time.monotonic() + 10
    while _agents_in(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _agents_in(root) == []


def test_preparing_the_worker_home_imports_the_team_key_and_starts_its_agent(team, settings):
    root = Path(settings.GPG_HOME_ROOT)

    assert crypto.worker_home_prepare() is True

    [home] = root.glob(f"worker-{os.getpid()}-*")
    assert (home / "pubring.kbx").exists()
    assert _agents_in(home)


def test_a_missing_team_key_raises(team, recipient, settings, tmp_path):
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "absent.asc"
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_a_public_key_as_the_team_key_raises(team, recipient, settings, tmp_path):
    public_only = tmp_path / "public.asc"
    public_only.write_text(load("good-cv25519"))
    settings.HAULOUT_TEAM_KEY_FILE = public_only
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )


def test_the_passphrase_never_appears_on_a_gpg_command_line(team, recipient, settings, tmp_path):
    log = tmp_path / "argv.log"
    settings.GPG_BINARY = gpg_wrapper(tmp_path, f'echo "$*" >> {log}\nexec REAL "$@"\n')
    armored, fingerprint = recipient
    crypto.notice_encrypt_and_sign(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
    )
    passphrase = Path(settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE).read_text().strip()
    command_lines = log.read_text()
    assert "--encrypt" in command_lines and "--no-random-seed-file" in command_lines
    assert passphrase not in command_lines


def make_inner() -> EmailMessage:
    inner = EmailMessage()
    inner["Subject"] = f"[EMBARGOED] {CANARY}"
    inner.set_content(f"Details: {CANARY}\n")
    return inner


def test_the_pgp_mime_message_follows_rfc_3156(team, recipient):
    armored, fingerprint = recipient
    outer = pgpmime.pgp_mime_message(
        recipient_armored=armored,
        fingerprint=fingerprint,
        inner=make_inner(),
        outer_subject="[Haulout] Embargoed notice 42",
        from_email="Security <security@example.org>",
        to_email="good@example.org",
        message_id="<notice-42.1@haulout.example>",
        headers={"Date": "Thu, 26 Nov 2026 20:00:00 +0000", "Auto-Submitted": "auto-generated"},
    )
    raw = outer.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    assert parsed.get_content_type() == "multipart/encrypted"
    assert parsed.get_param("protocol") == "application/pgp-encrypted"
    control, body = parsed.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert control.get_payload().strip() == "Version: 1"
    assert body.get_content_type() == "application/octet-stream"
    assert body.get_payload().startswith("-----BEGIN PGP MESSAGE-----")
    assert parsed["Subject"] == "[Haulout] Embargoed notice 42"
    assert parsed["Message-ID"] == "<notice-42.1@haulout.example>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert CANARY not in parsed["Subject"]
    assert CANARY.encode() not in raw

    code, plaintext, status = gpg_decrypt(
        body.get_payload(),
        secret=load("good-cv25519.secret"),
        signer_public=crypto.team_public_key_armored(),
    )
    assert code == 0, status
    assert f"[GNUPG:] VALIDSIG {team} " in status
    inner = email.message_from_bytes(plaintext, policy=email.policy.default)
    assert inner["Subject"] == f"[EMBARGOED] {CANARY}"
    assert inner["From"] == "Security <security@example.org>"
    assert inner.get_param("protected-headers") == "v1"
    assert inner.get_content().strip() == f"Details: {CANARY}"


def test_the_pgp_mime_message_refuses_to_let_headers_replace_its_own(team, recipient):
    armored, fingerprint = recipient
    with pytest.raises(crypto.CryptoError):
        pgpmime.pgp_mime_message(
            recipient_armored=armored,
            fingerprint=fingerprint,
            inner=make_inner(),
            outer_subject="Notice",
            from_email="security@example.org",
            to_email="good@example.org",
            message_id="<x@example>",
            headers={"Subject": CANARY},
        )


def test_no_pgp_mime_message_is_built_when_encryption_fails(team):
    with pytest.raises(crypto.CryptoError):
        pgpmime.pgp_mime_message(
            recipient_armored=load("revoked"),
            fingerprint=pgp_fingerprint(load("revoked")),
            inner=make_inner(),
            outer_subject="Notice",
            from_email="security@example.org",
            to_email="good@example.org",
            message_id="<x@example>",
        )


def test_the_team_public_key_is_publishable_and_has_no_secret(team):
    armored = crypto.team_public_key_armored()
    assert "PRIVATE KEY" not in armored
    report = pgp.key_inspect(armored=armored)  # reporters can encrypt to it
    assert report.fingerprint == team
    assert report.emails == ["security@example.org"]


def test_the_team_key_files_are_private_and_never_overwritten(generated_team_key):
    key_file, pass_file, _, _ = generated_team_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(pass_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    with pytest.raises(crypto.CryptoError):
        crypto.team_key_generate(
            name="x", email="x@example.org", path=key_file, passphrase_path=pass_file
        )


def test_each_process_has_its_own_private_home_and_never_imports_a_recipient(
    team, recipient, settings
):
    # (E1) Recipients are given to gpg with --recipient-file, so the home's keyring
    # holds only the team key and no per-recipient gpg run is needed for an import.
    armored, fingerprint = recipient
    for _ in range(3):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )
    home = crypto._home_get().path
    assert home.parent == Path(settings.GPG_HOME_ROOT)
    assert home.name.startswith(f"worker-{os.getpid()}-")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    listed = crypto._home_get().gpg().list_keys()
    assert [key["fingerprint"] for key in listed] == [crypto._home_get().team_fingerprint]
    assert not list(home.glob("recipient-*"))
    assert not (home / "random_seed").exists()


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_replaced_team_key_file_rebuilds_the_home_once_the_recheck_time_passes(team, settings):
    clock = _Clock()
    homes = crypto.HomeCache(clock=clock)
    try:
        first = homes.get()
        key_file = Path(settings.HAULOUT_TEAM_KEY_FILE)
        stamp = key_file.stat().st_mtime_ns + 10**9
        os.utime(key_file, ns=(stamp, stamp))  # the key file replaced in place
        clock.now += crypto.HOME_RECHECK_SECONDS / 2
        assert homes.get() is first  # not looked at again yet
        clock.now += crypto.HOME_RECHECK_SECONDS
        second = homes.get()
        assert second is not first
        assert second.path != first.path
        assert not first.path.exists()  # the old home and its agent are gone
        assert homes.get() is second
    finally:
        homes.close()


def test_a_changed_setting_is_seen_by_the_next_copy_at_once(team, settings):
    # The clock stands still, so only the setting_changed signal can make the process's
    # cache look again.
    homes = crypto.HomeCache(clock=_Clock())
    other_root = Path(tempfile.mkdtemp(prefix="hc-"))
    try:
        first = homes.get()
        settings.GPG_HOME_ROOT = other_root
        second = homes.get()
        assert second is not first
        assert second.path.parent == other_root
    finally:
        homes.close()
        shutil.rmtree(other_root, ignore_errors=True)


def test_homes_left_by_dead_processes_are_swept(team, recipient, settings):
    stale = Path(settings.GPG_HOME_ROOT) / "worker-4194999"  # above any real pid_max
    stale.mkdir()
    (stale / "pubring.kbx").write_text("stale")
    armored, fingerprint = recipient
    crypto.notice_encrypt_and_sign(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
    )
    assert not stale.exists()


def test_the_worker_home_tells_its_agent_to_hash_the_passphrase_cheaply(team, recipient):
    # With gpg-agent's default s2k count a signature cost ~0.4 s here; the team passphrase
    # is 256 random bits, so slow hashing adds nothing against guessing
    # (benchmarks/fanout.py measures the effect).
    armored, fingerprint = recipient
    crypto.notice_encrypt_and_sign(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
    )
    conf = (crypto._home_get().path / "gpg-agent.conf").read_text()
    assert "s2k-count 65536" in conf


def test_team_key_generate_writes_the_public_key_the_site_publishes(tmp_path, settings):
    key_file, pass_file = tmp_path / "team-key.asc", tmp_path / "team-key.passphrase"
    public_file = tmp_path / "published" / "team.pub.asc"
    fingerprint = crypto.team_key_generate(
        name="Example Security Team",
        email="security@example.org",
        path=key_file,
        passphrase_path=pass_file,
        public_path=public_file,
    )
    published = public_file.read_text()
    assert "PRIVATE KEY" not in published
    assert pgp.key_inspect(armored=published).fingerprint == fingerprint

    # The web process reads the file: no secret key and no gpg home are needed for it.
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = public_file
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "no-secret-key-here.asc"
    settings.GPG_BINARY = "/nonexistent/bin/gpg"
    crypto.worker_home_close()
    assert crypto.team_public_key_armored() == published


def test_team_key_generate_puts_the_public_key_next_to_the_secret_one_by_default(
    generated_team_key,
):
    key_file, _, fingerprint, _ = generated_team_key
    public_file = key_file.with_name("team-key.pub.asc")
    assert pgp.key_inspect(armored=public_file.read_text()).fingerprint == fingerprint


def test_a_public_key_file_holding_a_secret_key_is_never_published(generated_team_key, settings):
    key_file, _, _, _ = generated_team_key
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = key_file  # the operator pointed at the wrong file
    with pytest.raises(crypto.CryptoError):
        crypto.team_public_key_armored()


def test_two_notices_sealed_at_once_each_decrypt_for_their_own_recipient(team, recipient):
    # A worker starts the next copy's gpg before it sends the previous one.
    armored, fingerprint = recipient
    first = crypto.notice_seal_start(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"first copy"
    )
    second = crypto.notice_seal_start(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"second copy"
    )
    for sealing, expected in ((second, b"second copy"), (first, b"first copy")):
        code, plaintext, status = gpg_decrypt(
            sealing.result(),
            secret=load("good-cv25519.secret"),
            signer_public=crypto.team_public_key_armored(),
        )
        assert code == 0, status
        assert plaintext == expected
    assert not list(crypto._home_get().path.glob("recipient-*"))


def test_an_abandoned_sealing_stops_gpg_and_leaves_no_key_file(team, recipient, settings, tmp_path):
    settings.GPG_BINARY = gpg_wrapper(
        tmp_path, 'case " $* " in *" --encrypt "*) exec sleep 60;; esac\nexec REAL "$@"\n'
    )
    armored, fingerprint = recipient
    sealing = crypto.notice_seal_start(
        recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
    )
    run = sealing._run
    sealing.abandon()
    assert run.returncode is not None and run.closed
    assert not list(crypto._home_get().path.glob("recipient-*"))


def test_a_gpg_that_hangs_while_encrypting_fails_closed_at_the_time_limit(
    team, recipient, settings, tmp_path, monkeypatch
):
    settings.GPG_BINARY = gpg_wrapper(
        tmp_path, 'case " $* " in *" --encrypt "*) exec sleep 60;; esac\nexec REAL "$@"\n'
    )
    monkeypatch.setattr(crypto, "GPG_TIME_LIMIT", 0.5)
    armored, fingerprint = recipient
    started = time.monotonic()
    with pytest.raises(crypto.CryptoError, match="too long"):
        crypto.notice_encrypt_and_sign(
            recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
        )
    assert time.monotonic() - started < 10


def test_the_team_passphrase_is_in_the_agents_cache_before_the_first_notice(team):
    # Two runs signing at once while it is not cached can race in gpg-agent ("signing
    # failed: Invalid value"), and a worker starts the next copy's gpg before the last
    # one is done: the home's build signs once, alone, to fill the cache.
    home = crypto._home_get()
    listed = subprocess.run(
        ["gpg-connect-agent", "--homedir", str(home.path), "KEYINFO --list", "/bye"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    keys = [line.split() for line in listed.splitlines() if line.startswith("S KEYINFO")]
    # Fields: S KEYINFO <keygrip> <type> <serial> <idstr> <cached> ...
    assert keys and any(fields[6] == "1" for fields in keys)
    conf = (home.path / "gpg-agent.conf").read_text()
    assert "max-cache-ttl 315360000" in conf and "default-cache-ttl 315360000" in conf


def test_sealings_started_two_at_a_time_in_fresh_homes_all_succeed(team, recipient):
    armored, fingerprint = recipient
    for _ in range(8):
        crypto.worker_home_close()
        pair = [
            crypto.notice_seal_start(
                recipient_armored=armored, fingerprint=fingerprint, plaintext=b"x"
            )
            for _ in range(2)
        ]
        for sealing in pair:
            assert sealing.result().startswith(b"-----BEGIN PGP MESSAGE-----")
