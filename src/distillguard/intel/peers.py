"""Read peers' bundles into indicators we can hunt for.

Only what a standard STIX pattern says is trusted for matching, so bundles that went through
MISP or another platform (which keep patterns and labels but drop custom objects) still
work.  Patterns are parsed with the OASIS ``stix2-patterns`` grammar; comparisons on
``ipv4-addr:value`` / ``ipv6-addr:value`` (``=`` or ``ISSUBSET``) become network ranges and
comparisons on ``artifact:hashes.'SHA-256'`` become keyed tokens.  The kind label
(``distillguard:kind=...``) says what a token stands for; without it, a pattern with many
tokens is read as a template fingerprint and one with a few as exact-match tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import UserError
from distillguard.intel.fingerprint import MIN_BANDS
from distillguard.intel.keys import SharingKey
from distillguard.intel.observe import Network, parse_network
from distillguard.intel.selection import EMAIL_DOMAIN, NETWORK, PAYMENT, TEMPLATE
from distillguard.intel.stix import LABEL_KEY, LABEL_KIND, LABEL_MIN_BANDS
from distillguard.intel.validate import require_valid

TOKEN = "token"
"""Kind of an unlabelled exact-match token (payment or e-mail domain, we cannot tell)."""
TEMPLATE_MIN_TOKENS = 8


@dataclass(frozen=True)
class PeerIndicator:
    """One indicator from a peer, reduced to what matching needs."""

    indicator_id: str
    kind: str
    """``payment_fingerprint``, ``email_domain``, ``token``, ``network`` or ``template``."""
    tokens: tuple[str, ...]
    networks: tuple[Network, ...]
    campaigns: tuple[str, ...]
    """Names of the campaigns the indicator indicates."""
    producer: str
    accounts: int
    """How many accounts the peer saw it in (largest sighting count; 0 if none)."""
    min_bands: int = MIN_BANDS
    source: str = ""


def load_bundle(path: Path, *, validate: bool = True) -> dict[str, Any]:
    """A bundle file as JSON, validated with the OASIS validator unless told not to."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"bundle {path} does not exist") from None
    except orjson.JSONDecodeError as error:
        raise UserError(f"{path}: not JSON ({error}); pass a STIX 2.1 bundle file") from None
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise UserError(f"{path}: field 'type' must be 'bundle'; pass a STIX 2.1 bundle file")
    if not isinstance(data.get("objects", []), list):
        raise UserError(f"{path}: field 'objects' must be a list")
    if validate:
        require_valid(data, str(path))
    return data


def _unquote(value: str) -> str:
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return text


def _label(labels: list[str], prefix: str) -> str | None:
    for label in labels:
        if isinstance(label, str) and label.startswith(prefix):
            return label[len(prefix) :]
    return None


def _parse_pattern(pattern: str, where: str) -> tuple[list[str], list[Network]]:
    from stix2patterns.v21.pattern import Pattern

    try:
        comparisons = Pattern(pattern).inspect().comparisons
    except Exception as error:  # the grammar raises several types for bad patterns
        raise UserError(f"{where}: field 'pattern' does not parse as STIX 2.1 ({error})") from None
    tokens: list[str] = []
    networks: list[Network] = []
    for sco, tests in comparisons.items():
        for path, op, value in tests:
            text = _unquote(str(value))
            if sco in ("ipv4-addr", "ipv6-addr") and path == ["value"] and op in ("=", "ISSUBSET"):
                net = parse_network(text)
                if net is not None:
                    networks.append(net)
            elif sco == "artifact" and path == ["hashes", "SHA-256"] and op == "=":
                tokens.append(text.lower())
    return tokens, networks


def peer_indicators(
    bundle: dict[str, Any], key: SharingKey | None, source: str
) -> list[PeerIndicator]:
    """The indicators of one bundle we know how to match, with campaigns and counts."""
    objects = [o for o in bundle.get("objects", []) if isinstance(o, dict)]
    names = {o["id"]: str(o.get("name", "")) for o in objects if "id" in o}
    indicates: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for o in objects:
        if o.get("type") == "relationship" and o.get("relationship_type") == "indicates":
            target = str(o.get("target_ref", ""))
            if target.startswith("campaign--"):
                indicates.setdefault(str(o.get("source_ref")), []).append(names.get(target, target))
        if o.get("type") == "sighting" and isinstance(o.get("count"), int):
            ref = str(o.get("sighting_of_ref"))
            counts[ref] = max(counts.get(ref, 0), int(o["count"]))
    out: list[PeerIndicator] = []
    for index, o in enumerate(objects):
        if o.get("type") != "indicator" or o.get("pattern_type") != "stix":
            continue
        where = f"{source}, objects[{index}] ({o.get('id')})"
        labels = [str(x) for x in o.get("labels", []) if isinstance(x, str)]
        key_id = _label(labels, LABEL_KEY)
        tokens, networks = _parse_pattern(str(o.get("pattern", "")), where)
        if tokens and key is not None and key_id is not None and key_id != key.key_id:
            raise UserError(
                f"{where}: keyed with key id {key_id}, but your key's id is {key.key_id}; "
                "agree on one sharing key with this peer (docs/intel.md, section Keys)"
            )
        kind = _label(labels, LABEL_KIND)
        if kind not in (PAYMENT, EMAIL_DOMAIN, NETWORK, TEMPLATE):
            kind = NETWORK if networks and not tokens else None
            if kind is None and tokens:
                kind = TEMPLATE if len(tokens) >= TEMPLATE_MIN_TOKENS else TOKEN
        if kind is None:
            continue
        min_bands = MIN_BANDS
        declared = _label(labels, LABEL_MIN_BANDS)
        if declared is not None and declared.isdigit():
            min_bands = max(MIN_BANDS, int(declared))
        producer = names.get(str(o.get("created_by_ref", "")), "unknown producer")
        out.append(
            PeerIndicator(
                indicator_id=str(o["id"]),
                kind=kind,
                tokens=tuple(tokens) if kind != NETWORK else (),
                networks=tuple(networks) if kind == NETWORK else (),
                campaigns=tuple(indicates.get(str(o["id"]), [])),
                producer=producer or "unknown producer",
                accounts=counts.get(str(o["id"]), 0),
                min_bands=min_bands,
                source=source,
            )
        )
    return out


def read_peer_bundles(
    paths: list[Path], key: SharingKey | None, *, validate: bool = True
) -> list[PeerIndicator]:
    """Every matchable indicator of every bundle file, in file order."""
    out: list[PeerIndicator] = []
    for path in paths:
        out.extend(peer_indicators(load_bundle(path, validate=validate), key, str(path)))
    return out
