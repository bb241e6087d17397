"""STIX 2.1 objects for one export: producer, campaigns, actors, ATLAS techniques, indicators.

Every fingerprint is a *standard* STIX pattern, because consumers such as MISP drop custom
objects and custom properties:

* networks: ``[ipv4-addr:value ISSUBSET '203.0.113.0/24']`` (``ipv6-addr`` for /48);
* keyed tokens (payment instrument, e-mail domain): ``[artifact:hashes.'SHA-256' = '<token>']``
  — the token is an HMAC-SHA256, so it has the shape of a SHA-256 and nothing else to say;
* template fingerprints: the 16 keyed band tokens OR-ed in one observation expression.

What a pattern cannot say travels in standard ``labels`` (kept by MISP as tags):
``distillguard:kind=<kind>``, ``distillguard:key-id=<id>`` and, for templates,
``distillguard:min-bands=<n>`` (how many band tokens must agree; a consumer that fires on
any one band over-matches).  Ids are derived from the producer and the content
(:func:`stix_id`) and times come from the data, so exporting the same results twice gives
the same bundle.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import stix2

from distillguard.detectors.base import ATLAS
from distillguard.intel.selection import EMAIL_DOMAIN, NETWORK, PAYMENT, TEMPLATE, SharedValue

NAMESPACE = uuid.UUID("5d1a7c2e-3b0f-5e6a-9c41-d157111d0a01")
LABEL_KIND = "distillguard:kind="
LABEL_KEY = "distillguard:key-id="
LABEL_MIN_BANDS = "distillguard:min-bands="
TECHNIQUES = {
    ATLAS["extract_model"]: (
        "Extract AI Model",
        "Querying a model's API at scale to harvest its outputs and train a copy (distillation).",
    ),
    ATLAS["establish_accounts"]: (
        "Establish Accounts",
        "Opening many accounts (often fraudulent) to spread the harvest and evade limits.",
    ),
    ATLAS["ai_service_proxies"]: (
        "AI Service Proxies",
        "Routing the harvest through proxy networks so it looks like many unrelated customers.",
    ),
}
KIND_NAMES = {
    PAYMENT: "payment instrument (keyed hash)",
    EMAIL_DOMAIN: "sign-up e-mail domain (keyed hash)",
    NETWORK: "source network range",
    TEMPLATE: "prompt-template fingerprint (distillguard-template-v1, keyed)",
}


@dataclass(frozen=True)
class CampaignExport:
    """One cluster cleared for sharing, with the values that passed the rules."""

    cluster_id: str
    accounts: int
    exchanges: int
    capabilities: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    values: list[SharedValue]
    atlas: list[str] = field(default_factory=list)
    """ATLAS technique ids of the detectors behind the cluster's verdict."""


def stix_id(kind: str, *parts: str) -> str:
    """A deterministic STIX id of ``kind`` from the given parts.

    STIX asks for version-4 UUIDs in object ids; these are SHA-256 bytes of the parts with
    the version and variant bits of a v4 UUID, so re-exports keep their ids (TAXII servers
    and peers see updates, not duplicates) without claiming randomness that adds nothing.
    """
    digest = hashlib.sha256("|".join((str(NAMESPACE), kind, *parts)).encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


def pattern_for(value: SharedValue) -> str:
    """The standard STIX pattern of one shared value."""
    if value.kind == NETWORK:
        network = value.tokens[0]
        sco = "ipv6-addr" if ":" in network else "ipv4-addr"
        return f"[{sco}:value ISSUBSET '{network}']"
    comparisons = " OR ".join(f"artifact:hashes.'SHA-256' = '{t}'" for t in value.tokens)
    return f"[{comparisons}]"


def _when(value: datetime | None, fallback: datetime) -> datetime:
    return (value or fallback).astimezone(UTC)


def build_bundle(
    campaigns: list[CampaignExport],
    *,
    producer: str,
    key_id: str,
    min_bands: int,
    created: datetime,
    actor: str | None = None,
) -> dict[str, Any]:
    """The STIX 2.1 bundle of the given campaigns, as plain JSON data."""
    marking = stix2.v21.TLP_AMBER
    common: dict[str, Any] = {"created": created, "modified": created}
    identity = stix2.v21.Identity(
        id=stix_id("identity", producer),
        name=producer,
        identity_class="organization",
        description="Model provider that shares distillation-campaign indicators.",
        object_marking_refs=[marking.id],
        **common,
    )
    marked: dict[str, Any] = {
        **common,
        "created_by_ref": identity.id,
        "object_marking_refs": [marking.id],
    }
    objects: dict[str, Any] = {marking.id: marking, identity.id: identity}
    techniques: dict[str, Any] = {}

    def technique(atlas_id: str) -> Any:
        if atlas_id not in techniques:
            name, description = TECHNIQUES[atlas_id]
            techniques[atlas_id] = stix2.v21.AttackPattern(
                id=stix_id("attack-pattern", producer, atlas_id),
                name=name,
                description=description,
                external_references=[{"source_name": "mitre-atlas", "external_id": atlas_id}],
                **marked,
            )
            objects[techniques[atlas_id].id] = techniques[atlas_id]
        return techniques[atlas_id]

    def relate(source: str, relationship: str, target: str) -> None:
        rid = stix_id("relationship", producer, source, relationship, target)
        objects[rid] = stix2.v21.Relationship(
            id=rid,
            relationship_type=relationship,
            source_ref=source,
            target_ref=target,
            **marked,
        )

    for campaign in campaigns:
        first = _when(campaign.first_seen, created)
        last = max(_when(campaign.last_seen, created), first)
        targets = ", ".join(campaign.capabilities) or "unknown capabilities"
        sdo = stix2.v21.Campaign(
            id=stix_id("campaign", producer, campaign.cluster_id),
            name=f"Distillation campaign {campaign.cluster_id}",
            description=(
                f"A coordinated cluster of {campaign.accounts} accounts that sent "
                f"{campaign.exchanges} requests harvesting {targets}."
            ),
            objective="Harvest model outputs to train a competing model (distillation).",
            first_seen=first,
            last_seen=last,
            **marked,
        )
        objects[sdo.id] = sdo
        threat_actor = stix2.v21.ThreatActor(
            id=stix_id("threat-actor", producer, campaign.cluster_id, actor or ""),
            name=actor or f"Unattributed operator of {sdo.name}",
            description=(
                "Attributed by an analyst."
                if actor
                else "Not attributed: nothing is claimed about who runs this campaign."
            ),
            threat_actor_types=["unknown"] if actor is None else ["competitor"],
            **marked,
        )
        objects[threat_actor.id] = threat_actor
        relate(sdo.id, "attributed-to", threat_actor.id)
        atlas = {ATLAS["extract_model"], ATLAS["establish_accounts"], *campaign.atlas}
        if any(v.kind == NETWORK for v in campaign.values):
            atlas.add(ATLAS["ai_service_proxies"])
        for atlas_id in sorted(a for a in atlas if a in TECHNIQUES):
            relate(sdo.id, "uses", technique(atlas_id).id)
        for value in campaign.values:
            _add_indicator(
                objects,
                value,
                sdo,
                identity,
                marked,
                relate,
                technique,
                key_id,
                min_bands,
                first,
                last,
                producer,
            )
    bundle = stix2.v21.Bundle(
        id=stix_id("bundle", producer, *sorted(objects)),
        objects=sorted(objects.values(), key=lambda o: (o["type"], o["id"])),
    )
    data: dict[str, Any] = orjson.loads(bundle.serialize())
    return data


def _add_indicator(
    objects: dict[str, Any],
    value: SharedValue,
    campaign: Any,
    identity: Any,
    marked: dict[str, Any],
    relate: Any,
    technique: Any,
    key_id: str,
    min_bands: int,
    first: datetime,
    last: datetime,
    producer: str,
) -> None:
    pattern = pattern_for(value)
    labels = [LABEL_KIND + value.kind]
    if value.kind != NETWORK:
        labels.append(LABEL_KEY + key_id)
    if value.kind == TEMPLATE:
        labels.append(LABEL_MIN_BANDS + str(min_bands))
    indicator_id = stix_id("indicator", producer, pattern)
    if indicator_id not in objects:
        objects[indicator_id] = stix2.v21.Indicator(
            id=indicator_id,
            name=f"Distillation campaign {KIND_NAMES[value.kind]}",
            description=_describe(value, min_bands),
            indicator_types=["malicious-activity"],
            pattern=pattern,
            pattern_type="stix",
            pattern_version="2.1",
            valid_from=first,
            labels=labels,
            **marked,
        )
    relate(indicator_id, "indicates", campaign.id)
    if value.kind == NETWORK:
        relate(indicator_id, "indicates", technique(ATLAS["ai_service_proxies"]).id)
    observed_refs: list[str] = []
    if value.kind == NETWORK:
        network = value.tokens[0]
        sco_type = stix2.v21.IPv6Address if ":" in network else stix2.v21.IPv4Address
        sco = sco_type(value=network)
        objects[sco.id] = sco
        observed_id = stix_id("observed-data", producer, campaign.id, network)
        objects[observed_id] = stix2.v21.ObservedData(
            id=observed_id,
            first_observed=first,
            last_observed=last,
            number_observed=max(1, value.exchanges),
            object_refs=[sco.id],
            **marked,
        )
        observed_refs.append(observed_id)
    sighting_id = stix_id("sighting", producer, campaign.id, indicator_id)
    objects[sighting_id] = stix2.v21.Sighting(
        id=sighting_id,
        sighting_of_ref=indicator_id,
        count=value.accounts,
        first_seen=first,
        last_seen=last,
        where_sighted_refs=[identity.id],
        description=(
            f"Seen in {value.accounts} accounts of {campaign.name}"
            + (f" ({value.exchanges} requests)." if value.exchanges else ".")
        ),
        **({"observed_data_refs": observed_refs} if observed_refs else {}),
        **marked,
    )


def _describe(value: SharedValue, min_bands: int) -> str:
    if value.kind == TEMPLATE:
        return (
            "MinHash fingerprint of the instructions wrapped around the harvested tasks "
            "(spec distillguard-template-v1: 16 HMAC-keyed LSH band tokens). Match when at "
            f"least {min_bands} of the 16 tokens agree; no prompt text is included."
        )
    if value.kind == NETWORK:
        return "Network range that carried a large share of the campaign's requests."
    return (
        f"HMAC-SHA256 of the {value.kind.replace('_', ' ')} under the sharing community's key "
        "(see the key-id label); compare with the same key, never the raw value."
    )
