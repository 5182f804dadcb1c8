"""A person's own key pair for tests: made by the real gpg in a throwaway home that also
decrypts the possession challenge, as the person would on their own computer."""

from __future__ import annotations

import re

from tests.keys import gpg_home_close, gpg_home_new, gpg_home_run

CODE = re.compile(r"^\s+([a-z0-9]{5}(?:-[a-z0-9]{5})+)\s*$", re.MULTILINE)


class PersonKey:
    """An ed25519 primary and a cv25519 encryption subkey for `email`, expiring after
    `expire` (gpg's notation, e.g. "2y"). close() stops the home's agent and deletes it."""

    def __init__(self, email: str, *, expire: str = "2y"):
        self.home = gpg_home_new("d2k-")
        self.email = email
        try:
            gpg_home_run(self.home, "--quick-gen-key", f"Test Person <{email}>", "ed25519",
                         "cert,sign", expire)  # fmt: skip
            self.fingerprint = self._fingerprint()
            gpg_home_run(self.home, "--quick-add-key", self.fingerprint, "cv25519", "encr", expire)
            self.public = gpg_home_run(self.home, "--armor", "--export", self.fingerprint).decode()
            self.secret = gpg_home_run(
                self.home, "--armor", "--export-secret-keys", self.fingerprint
            ).decode()
        except BaseException:
            self.close()
            raise

    def _fingerprint(self) -> str:
        for line in gpg_home_run(self.home, "--with-colons", "--list-keys").decode().splitlines():
            fields = line.split(":")
            if fields[0] == "fpr":
                return fields[9]
        raise RuntimeError("no key")

    def decrypt(self, ciphertext: str) -> str:
        return gpg_home_run(self.home, "--decrypt", stdin=ciphertext.encode()).decode()

    def code_from(self, ciphertext: str) -> str:
        """Decrypt the challenge and pick the code out of it, as a person would."""
        match = CODE.search(self.decrypt(ciphertext))
        assert match, "no code in the decrypted challenge"
        return match.group(1)

    def close(self) -> None:
        gpg_home_close(self.home)
