"""pgpmail.packets: armor that gpg reads, and packets split byte for byte."""

from __future__ import annotations

import os
import random
import re

import pytest

from pgpmail import packets as openpgp
from tests.keys import load


@pytest.mark.parametrize("name", ["good-cv25519", "good-rsa3072", "good-cv25519.secret"])
def test_armor_writes_exactly_what_gpg_wrote(name):
    text = load(name)
    block = openpgp.dearmor(text)[0]
    assert openpgp.armor(block.data, block.kind) == text


@pytest.mark.parametrize("size", [1, 47, 48, 49, 95, 96, 1000])
def test_armor_round_trips_through_dearmor_with_its_checksum(size):
    data = os.urandom(size)
    text = openpgp.armor(data, "MESSAGE")
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN PGP MESSAGE-----"
    assert lines[-1] == "-----END PGP MESSAGE-----"
    assert all(len(line) <= 64 for line in lines[2:-2])
    assert [(b.kind, b.data) for b in openpgp.dearmor(text)] == [("MESSAGE", data)]


def test_armor_of_changed_bytes_fails_the_old_checksum():
    data = openpgp.dearmor(load("good-cv25519"))[0].data
    checksum = openpgp.armor(data, "PUBLIC KEY BLOCK").splitlines()[-2]
    tampered = openpgp.armor(data[:-1] + bytes([data[-1] ^ 1]), "PUBLIC KEY BLOCK")
    lines = tampered.splitlines()
    assert lines[-2] != checksum
    lines[-2] = checksum
    with pytest.raises(openpgp.PacketError, match="checksum"):
        openpgp.dearmor("\n".join(lines) + "\n")


@pytest.mark.parametrize("block_type", ["", "public key block", "MESSAGE-----\n", "KEY\nX"])
def test_armor_refuses_a_block_type_that_would_break_the_armor_lines(block_type):
    with pytest.raises(ValueError):
        openpgp.armor(b"data", block_type)


def test_packets_raw_gives_each_packets_exact_bytes_and_the_same_bodies_as_packets():
    data = openpgp.dearmor(load("good-rsa3072"))[0].data
    records = list(openpgp.packets_raw(data))
    assert b"".join(raw for _tag, raw, _body in records) == data
    assert [(tag, body) for tag, _raw, body in records] == list(openpgp.packets(data))
    assert all(raw.endswith(body) for _tag, raw, body in records)
    assert records[0][0] == openpgp.PUBLIC_KEY


def test_packets_raw_of_two_keys_regroups_into_each_key():
    first = openpgp.dearmor(load("good-cv25519"))[0].data
    second = openpgp.dearmor(load("good-rsa3072"))[0].data
    keys: list[bytes] = []
    for tag, raw, _body in openpgp.packets_raw(first + second):
        if tag == openpgp.PUBLIC_KEY:
            keys.append(b"")
        keys[-1] += raw
    assert keys == [first, second]


# What dearmor used to find blocks with; _armor_bodies must find exactly the same. The END
# line may end in CRLF (issue 15, item 7): "$" alone skipped such a block without a word.
_REFERENCE_ARMOR = re.compile(
    r"^-----BEGIN PGP (?P<kind>[A-Z ,/0-9]+)-----[ \t]*\r?\n"
    r"(?P<body>.*?)"
    r"^-----END PGP (?P=kind)-----[ \t\r]*$",
    re.MULTILINE | re.DOTALL,
)
_FRAGMENTS = [
    "-----BEGIN PGP MESSAGE-----\n",
    "-----BEGIN PGP MESSAGE-----  \r\n",
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
    "-----END PGP MESSAGE-----",
    "-----END PGP MESSAGE-----\t \n",
    "-----END PGP MESSAGE-----\r\n",
    "-----END PGP MESSAGE-----x\n",
    "-----END PGP PUBLIC KEY BLOCK-----\n",
    "-----END PGP MESSAGE PART 1-----\n",
    " -----END PGP MESSAGE-----\n",
    "hQEMA+x/base64+data==\n",
    "Comment: a header\n",
    "\n",
    "\r\n",
    "text around ",
    "=AbCd\n",
]


def test_the_armor_scanner_finds_the_same_blocks_as_the_reference_expression():
    rng = random.Random(20261127)
    for _ in range(20000):
        text = "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 12)))
        expected = [(m["kind"], m["body"]) for m in _REFERENCE_ARMOR.finditer(text)]
        assert list(openpgp._armor_bodies(text)) == expected, repr(text)


def _key_body(algorithm: int, material: bytes) -> bytes:
    # Version 4, a creation time, the algorithm, then the algorithm's public material.
    return bytes([4, 0x60, 0, 0, 0, algorithm]) + material


def test_a_key_part_is_as_large_as_its_integer_not_its_mpi_header():
    # The header claims 2048 bits; the integer has leading zero bytes and is 1024 bits.
    claimed = (2048).to_bytes(2, "big")
    value = bytes(128) + b"\x80" + bytes(127)
    part = openpgp.key_part(_key_body(1, claimed + value + b"\x00\x11\x01\x00\x01"))
    assert (part.algorithm_name, part.bits, part.curve) == ("RSA", 1024, None)


def test_key_parts_of_real_keys_name_algorithm_size_and_curve():
    def parts(name):
        data = openpgp.dearmor(load(name))[0].data
        return [
            (openpgp.key_part(body).algorithm_name, openpgp.key_part(body).bits,
             openpgp.key_part(body).curve)
            for tag, body in openpgp.packets(data)
            if tag in (openpgp.PUBLIC_KEY, openpgp.PUBLIC_SUBKEY)
        ]  # fmt: skip

    assert parts("good-cv25519") == [("EdDSA", None, "ed25519"), ("ECDH", None, "cv25519")]
    assert parts("weak-dsa1024") == [("DSA", 1024, None), ("ElGamal", 1024, None)]
    assert parts("good-rsa3072") == [("RSA", 3072, None), ("RSA", 3072, None)]


def test_a_key_part_cut_short_is_malformed():
    with pytest.raises(openpgp.PacketError):
        openpgp.key_part(_key_body(1, (2048).to_bytes(2, "big") + bytes(10)))
