"""The sharing key: keyed hashes that peers who hold the key can compare, and nobody else can.

Payment fingerprints, e-mail domains and template fingerprints leave only as
``HMAC-SHA256(key, "<kind>|<value>")`` in lowercase hex.  Peers who need only equality
("does any of my accounts pay with the card your campaign used?") compute the same token on
their own data and compare tokens; without the key a token cannot be confirmed against a
guessed value, so a leaked bundle is not a dictionary-attack oracle.  The kind is part of
the message, so a payment token can never collide with a domain token.

Peers agree on one key out of band (see docs/intel.md, "Keys"); bundles carry only its
``key_id`` (the first 16 hex digits of SHA-256 of the key) so a consumer can tell at once
that a bundle was keyed with another community's key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from distillguard.errors import UserError

KEY_ENV = "DISTILLGUARD_INTEL_KEY"
"""Environment variable that may hold the key as hex (instead of ``--key-file``)."""
MIN_KEY_BYTES = 16
KEY_HELP = (
    'create one with `python -c "import secrets; print(secrets.token_hex(32))" > intel.key` '
    "and share it with your peers out of band (docs/intel.md, section Keys)"
)


@dataclass(frozen=True)
class SharingKey:
    """A community's shared secret, as bytes, with its public id."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise UserError(
                f"the sharing key has {len(self.secret)} bytes; at least {MIN_KEY_BYTES} are "
                f"needed: {KEY_HELP}"
            )

    @property
    def key_id(self) -> str:
        """Public id of the key: the first 16 hex digits of its SHA-256."""
        return hashlib.sha256(self.secret).hexdigest()[:16]

    def token(self, kind: str, value: str) -> str:
        """The keyed hash of one value of one kind (lowercase hex, 64 digits)."""
        message = f"{kind}|{value}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def parse_key_text(text: str, origin: str) -> SharingKey:
    """A key written as hex (64 digits recommended); ``origin`` names where it came from."""
    cleaned = text.strip()
    try:
        secret = bytes.fromhex(cleaned)
    except ValueError:
        raise UserError(f"{origin}: the sharing key must be hex digits; {KEY_HELP}") from None
    if len(secret) < MIN_KEY_BYTES:
        raise UserError(
            f"{origin}: the sharing key has {len(secret)} bytes; at least {MIN_KEY_BYTES} are "
            f"needed; {KEY_HELP}"
        )
    return SharingKey(secret)


def load_key(path: Path | None) -> SharingKey:
    """The key from ``path``, else from $DISTILLGUARD_INTEL_KEY; a clear error when neither."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"key file {path} does not exist; {KEY_HELP}") from None
        return parse_key_text(text, str(path))
    env = os.environ.get(KEY_ENV)
    if env:
        return parse_key_text(env, f"${KEY_ENV}")
    raise UserError(f"no sharing key: pass --key-file or set ${KEY_ENV}; {KEY_HELP}")
