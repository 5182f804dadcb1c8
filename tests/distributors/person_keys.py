"""A person's own key pair for tests: made by the real gpg in a throwaway home that also
decrypts the possession challenge, as the person would on their own computer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

GPG = os.environ.get("HAULOUT_GPG_BINARY", "gpg")
CODE = re.compile(r"^\s+([a-z0-9]{5}(?:-[a-z0-9]{5})+)\s*$", re.MULTILINE)


class PersonKey:
    def __init__(self, email: str, *, expire: str = "2y", faked_time: str | None = None):
        # Short path: gpg-agent puts its socket inside the home.
        self.home = tempfile.mkdtemp(prefix="d2k-")
        os.chmod(self.home, 0o700)
        self.email = email
        self._gpg(
            "--quick-gen-key", f"Test Person <{email}>", "ed25519", "cert,sign", expire,
            faked_time=faked_time,
        )  # fmt: skip
        self.fingerprint = self._fingerprint()
        self._gpg("--quick-add-key", self.fingerprint, "cv25519", "encr", expire,
                  faked_time=faked_time)  # fmt: skip
        self.public = self._gpg("--armor", "--export", self.fingerprint).decode()
        self.secret = self._gpg("--armor", "--export-secret-keys", self.fingerprint).decode()

    def _gpg(self, *args: str, stdin: bytes | None = None, faked_time: str | None = None):
        cmd = [
            GPG, "--homedir", self.home, "--batch", "--no-tty", "--no-random-seed-file",
            "--passphrase", "", "--pinentry-mode", "loopback", "--trust-model", "always",
        ]  # fmt: skip
        if faked_time:
            cmd += ["--faked-system-time", f"{faked_time}!"]
        done = subprocess.run(cmd + list(args), input=stdin, capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"gpg {args[0]} failed: {done.stderr.decode()[-1000:]}")
        return done.stdout

    def _fingerprint(self) -> str:
        for line in self._gpg("--with-colons", "--list-keys").decode().splitlines():
            fields = line.split(":")
            if fields[0] == "fpr":
                return fields[9]
        raise RuntimeError("no key")

    def decrypt(self, ciphertext: str) -> str:
        return self._gpg("--decrypt", stdin=ciphertext.encode()).decode()

    def code_from(self, ciphertext: str) -> str:
        """Decrypt the challenge and pick the code out of it, as a person would."""
        match = CODE.search(self.decrypt(ciphertext))
        assert match, "no code in the decrypted challenge"
        return match.group(1)

    def close(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", self.home, "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.home, ignore_errors=True)
