"""A small reader for OpenPGP ASCII armor and packet headers (RFC 4880 sections 4.2, 6).

It never interprets key material. It exists so that we can count what a pasted block
contains (keys, secret packets, user IDs, signatures) before gpg parses it, feed gpg
exactly the bytes we counted, and check who an encrypted message is addressed to.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

# Packet tags (RFC 4880 section 4.3).
PKESK = 1  # public-key encrypted session key
SIGNATURE = 2
SKESK = 3  # symmetric-key encrypted session key
SECRET_KEY = 5
PUBLIC_KEY = 6
SECRET_SUBKEY = 7
ENCRYPTED_DATA = 9
USER_ID = 13
PUBLIC_SUBKEY = 14
USER_ATTRIBUTE = 17
ENCRYPTED_DATA_MDC = 18
AEAD_DATA = 20

_BEGIN = re.compile(r"^-----BEGIN PGP (?P<kind>[A-Z ,/0-9]+)-----[ \t]*\r?\n", re.MULTILINE)
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ")


class PacketError(ValueError):
    """The text is not armor, the armor does not decode, or the packets are malformed."""


@dataclass(frozen=True)
class ArmorBlock:
    kind: str  # "PUBLIC KEY BLOCK", "PRIVATE KEY BLOCK", "MESSAGE", ...
    data: bytes


def _crc24_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def crc24(data: bytes) -> int:
    """RFC 4880 6.1, a byte at a time from a table (a bit at a time cost ~1 ms per
    message checked in a fan-out)."""
    crc = 0xB704CE
    table = _CRC24_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[((crc >> 16) ^ byte) & 0xFF]
    return crc


def dearmor(text: str, *, verify_checksum: bool = True) -> list[ArmorBlock]:
    """Every armored block in `text`, decoded and CRC-checked (unless the caller made the
    armor itself, or took it straight from gpg). Text around blocks is ignored."""
    blocks = []
    for kind, body in _armor_bodies(text):
        lines = [line.strip() for line in body.splitlines()]
        # Armor headers ("Comment: ...") end at the first blank line.
        if lines and _HEADER.match(lines[0]):
            if "" not in lines:
                raise PacketError("armor headers are not followed by a blank line")
            lines = lines[lines.index("") + 1 :]
        lines = [line for line in lines if line]
        checksum = None
        if lines and lines[-1].startswith("=") and len(lines[-1]) == 5:
            checksum = lines.pop()[1:]
        joined = "".join(lines)
        if not joined:
            raise PacketError("armor body is not base64")
        try:
            # validate=True refuses any character outside the alphabet and padding
            # anywhere but at the end: no line-by-line check is needed.
            data = base64.b64decode(joined, validate=True)
            expected = base64.b64decode(checksum, validate=True) if checksum else None
        except (binascii.Error, ValueError) as error:
            raise PacketError("armor body is not base64") from error
        checked = verify_checksum and expected is not None
        if checked and int.from_bytes(expected, "big") != crc24(data):
            raise PacketError("armor checksum does not match")
        blocks.append(ArmorBlock(kind=kind, data=data))
    return blocks


def _armor_bodies(text: str) -> Iterator[tuple[str, str]]:
    """(kind, body) of each block: a BEGIN line, then everything up to the first line
    that is the matching END line (trailing spaces or tabs allowed). The same blocks as
    the regular expression ^BEGIN...\\n(.*?)^END...$ (MULTILINE, DOTALL), whose lazy
    body made the regex engine test every position of a message for the END line: most
    of the time of reading gpg's output back (~40 us of ~70 per message)."""
    pos = 0
    while (begin := _BEGIN.search(text, pos)) is not None:
        kind, start = begin["kind"], begin.end()
        marker = f"-----END PGP {kind}-----"
        found = text.find(marker, start)
        while found >= 0:
            after = found + len(marker)
            # A CRLF-ended END line is an END line too: otherwise a block pasted from
            # Windows was skipped without a word and the next block read instead.
            while after < len(text) and text[after] in " \t\r":
                after += 1
            at_line_start = found == start or text[found - 1] == "\n"
            if at_line_start and (after == len(text) or text[after] == "\n"):
                break
            found = text.find(marker, found + 1)
        if found < 0:
            # No END for this BEGIN: look for another BEGIN further on.
            pos = begin.start() + 1
            continue
        yield kind, text[start:found]
        pos = after


def armor_kinds(text: str) -> list[str]:
    """The kind of every BEGIN line in `text`, whether or not its block ends: a BEGIN
    with no END is a block that dearmor() leaves out, and the caller may want to say so."""
    return [match["kind"] for match in _BEGIN.finditer(text)]


def armor(data: bytes, block_type: str) -> str:
    """ASCII armor (RFC 4880 6.2) for `data`, e.g. armor(key, "PUBLIC KEY BLOCK"): no
    headers, 64-character lines and the CRC-24 checksum line, as gpg writes it."""
    if not re.fullmatch(r"[A-Z][A-Z ,/0-9]*", block_type):
        raise ValueError(f"not an armor block type: {block_type!r}")
    text = base64.b64encode(data).decode()
    lines = "".join(text[i : i + 64] + "\n" for i in range(0, len(text), 64))
    checksum = base64.b64encode(crc24(data).to_bytes(3, "big")).decode()
    return (
        f"-----BEGIN PGP {block_type}-----\n\n{lines}={checksum}\n-----END PGP {block_type}-----\n"
    )


def _length(data: bytes, pos: int, size: int) -> tuple[int, int]:
    if pos + size > len(data):
        raise PacketError("packet length runs past the end of the data")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


def packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (tag, body) for each packet. Raises PacketError on anything malformed."""
    for tag, _raw, body in packets_raw(data):
        yield tag, body


def packets_raw(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """Yield (tag, the packet's own bytes with its header, body) for each packet, so that
    packets can be regrouped byte for byte (e.g. one key out of a keyring export)."""
    pos = 0
    while pos < len(data):
        start = pos
        header = data[pos]
        pos += 1
        if not header & 0x80:
            raise PacketError("not an OpenPGP packet")
        if header & 0x40:  # new format: 6-bit tag, 1/2/5-octet or partial lengths
            tag = header & 0x3F
            chunks = []
            while True:
                first, pos = _length(data, pos, 1)
                if first < 192:
                    length, partial = first, False
                elif first < 224:
                    second, pos = _length(data, pos, 1)
                    length, partial = ((first - 192) << 8) + second + 192, False
                elif first == 255:
                    length, pos = _length(data, pos, 4)
                    partial = False
                else:
                    length, partial = 1 << (first & 0x1F), True
                if pos + length > len(data):
                    raise PacketError("packet body runs past the end of the data")
                chunks.append(data[pos : pos + length])
                pos += length
                if not partial:
                    break
            body = b"".join(chunks)
        else:  # old format: 4-bit tag, length type in the low two bits
            tag = (header >> 2) & 0x0F
            length_type = header & 0x03
            if length_type == 3:  # indeterminate: the rest of the data
                length = len(data) - pos
            else:
                length, pos = _length(data, pos, (1, 2, 4)[length_type])
            if pos + length > len(data):
                raise PacketError("packet body runs past the end of the data")
            body = data[pos : pos + length]
            pos += length
        if tag == 0:
            raise PacketError("reserved packet tag 0")
        yield tag, data[start:pos], body


# Public-key algorithm numbers (RFC 4880 9.1, RFC 6637, RFC 9580 9.1).
RSA_ALGORITHMS = frozenset({1, 2, 3})
ELGAMAL_ALGORITHMS = frozenset({16, 20})
DSA = 17
ECDH, ECDSA, EDDSA_LEGACY = 18, 19, 22
# Algorithms whose strength is the size of one integer (RSA n, DSA p, ElGamal p).
FIELD_SIZE_ALGORITHMS = RSA_ALGORITHMS | ELGAMAL_ALGORITHMS | {DSA}
ALGORITHM_NAMES = {
    1: "RSA",
    2: "RSA",
    3: "RSA",
    16: "ElGamal",
    17: "DSA",
    18: "ECDH",
    19: "ECDSA",
    20: "ElGamal",
    22: "EdDSA",
    25: "X25519",
    26: "X448",
    27: "Ed25519",
    28: "Ed448",
}
# Curve OIDs (RFC 6637 11, RFC 9580 9.2) to the names gpg uses.
CURVE_NAMES = {
    bytes.fromhex("2B06010401DA470F01"): "ed25519",
    bytes.fromhex("2B060104019755010501"): "cv25519",
    bytes.fromhex("2A8648CE3D030107"): "nistp256",
    bytes.fromhex("2B81040022"): "nistp384",
    bytes.fromhex("2B81040023"): "nistp521",
    bytes.fromhex("2B2403030208010107"): "brainpoolP256r1",
    bytes.fromhex("2B240303020801010B"): "brainpoolP384r1",
    bytes.fromhex("2B240303020801010D"): "brainpoolP512r1",
    bytes.fromhex("2B8104000A"): "secp256k1",
}


@dataclass(frozen=True)
class KeyPart:
    """What a public key or subkey packet says about its own strength."""

    version: int
    algorithm: int
    bits: int | None  # RSA, DSA and ElGamal: the bit length of n or p
    curve: str | None  # ECC: the curve's name, or "unknown curve"

    @property
    def algorithm_name(self) -> str:
        return ALGORITHM_NAMES.get(self.algorithm, f"algorithm {self.algorithm}")


def key_part(body: bytes) -> KeyPart:
    """Read the version, algorithm and size of a version 4 public key (or subkey) packet
    body (RFC 4880 5.5.2). The size is that of the integer itself, not what its MPI
    header claims, so leading zero bits cannot make a small key look large."""
    if len(body) < 8:
        raise PacketError("key packet is too short")
    version, algorithm = body[0], body[5]
    if version != 4:
        return KeyPart(version=version, algorithm=algorithm, bits=None, curve=None)
    if algorithm in FIELD_SIZE_ALGORITHMS:
        claimed = int.from_bytes(body[6:8], "big")
        value = body[8 : 8 + (claimed + 7) // 8]
        if len(value) != (claimed + 7) // 8:
            raise PacketError("key material runs past the end of the packet")
        bits = int.from_bytes(value, "big").bit_length()
        return KeyPart(version=version, algorithm=algorithm, bits=bits, curve=None)
    if algorithm in (ECDH, ECDSA, EDDSA_LEGACY):
        size = body[6]
        oid = body[7 : 7 + size]
        if size in (0, 0xFF) or len(oid) != size:
            raise PacketError("curve identifier runs past the end of the packet")
        curve = CURVE_NAMES.get(oid, "unknown curve")
        return KeyPart(version=version, algorithm=algorithm, bits=None, curve=curve)
    return KeyPart(version=version, algorithm=algorithm, bits=None, curve=None)


def packet_counts(data: bytes) -> Counter[int]:
    return Counter(tag for tag, _body in packets(data))


def recipient_key_ids(data: bytes) -> list[str]:
    """Key IDs (16 upper-case hex) of every public-key encrypted session key packet.

    Raises PacketError if the message also carries a symmetric (passphrase) session key,
    or has no encrypted data: either would mean it is not what we asked gpg for.
    """
    key_ids = []
    tags = set()
    for tag, body in packets(data):
        tags.add(tag)
        if tag == PKESK:
            if len(body) < 10 or body[0] != 3:
                raise PacketError("unsupported session key packet")
            key_ids.append(body[1:9].hex().upper())
        # The encrypted data follows the session keys; nothing after it matters here.
        if tag in (ENCRYPTED_DATA, ENCRYPTED_DATA_MDC, AEAD_DATA):
            break
    if SKESK in tags:
        raise PacketError("message carries a passphrase-encrypted session key")
    if not tags & {ENCRYPTED_DATA, ENCRYPTED_DATA_MDC, AEAD_DATA}:
        raise PacketError("message has no encrypted data")
    return key_ids
