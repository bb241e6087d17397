"""DG-502 fingerprint inheritance on a hand-made store: satellites join, the crowd does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest

from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination import find_clusters
from distillguard.detectors.drift.inheritance import INFO, Settings, _one_campaign, inheritance
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_FEATURE_SCHEMA, EXCHANGE_SCHEMA

START = datetime(2026, 10, 1, tzinfo=UTC)
CAMPAIGN_WRAPPER = 17
POPULAR_WRAPPER = 99
FLEET_WRAPPERS = (31, 32, 33, 34)
PIECE_WRAPPERS = (41, 42, 43, 44, 45)
HARVESTING = frozenset({CAMPAIGN_WRAPPER, CAMPAIGN_WRAPPER + 1, *FLEET_WRAPPERS, *PIECE_WRAPPERS})
"""Wrappers around requests for a harvestable output (the classifier's reasoning signal)."""


class World:
    """Accounts, exchanges and features built up one account at a time."""

    def __init__(self) -> None:
        self.accounts: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []
        self.features: list[dict[str, Any]] = []

    def add(
        self,
        aid: str,
        wrappers: list[int],
        card: str | None = None,
        org: str | None = None,
        sentences: list[list[int]] | None = None,
    ) -> None:
        self.accounts.append(
            {
                "account_id": aid,
                "source_file": "a.jsonl",
                "source_line": len(self.accounts) + 1,
                "payment_fingerprint": card,
                "organization_id": org,
                "created_at": START - timedelta(days=30),
            }
        )
        for index, wrapper in enumerate(wrappers):
            n = len(self.rows) + 1
            row = {
                "exchange_id": f"x{n}",
                "ts": START + timedelta(minutes=7 * n),
                "account_id": aid,
                "model": "m",
                "messages": "[]",
                "n_messages": 1,
                "prompt_text": "p",
                "source_file": "x.jsonl",
                "source_line": n,
            }
            self.rows.append(row)
            self.features.append(
                {
                    "exchange_id": row["exchange_id"],
                    "account_id": aid,
                    "ts": row["ts"],
                    "model": "m",
                    "lang": "en",
                    "prompt_chars": 10,
                    "text_hash": n,  # every request wraps a different task
                    "template_id": wrapper,
                    "wrapper_id": wrapper,
                    "lsh_bands": [],
                    "instruction_sentences": sentences[index] if sentences else [],
                    "p_reasoning": 0.9 if wrapper in HARVESTING or sentences else 0.0,
                    "p_reconstruct": 0.0,
                    "p_grading": 0.0,
                    "p_tool": 0.0,
                    "p_rewrite": 0.0,
                    "capability": "chat",
                    "truncated": False,
                }
            )

    def context(self) -> ScanContext:
        con = open_store(None)
        append_arrow(con, "accounts", pa.Table.from_pylist(self.accounts, schema=ACCOUNT_SCHEMA))
        append_arrow(con, "exchanges", pa.Table.from_pylist(self.rows, schema=EXCHANGE_SCHEMA))
        con.create_table("exchange_features", schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
        table = pa.Table.from_pylist(self.features, schema=EXCHANGE_FEATURE_SCHEMA)
        append_arrow(con, "exchange_features", table)
        return ScanContext(con=con)


def build() -> ScanContext:
    world = World()
    for i in range(6):  # the campaign: one card, one wrapper around many tasks
        world.add(f"camp{i}", [CAMPAIGN_WRAPPER] * 20 + [POPULAR_WRAPPER], card="pm_campaign")
    for i in range(3):  # satellites: own cards, a few requests in the campaign's wrapper
        world.add(f"sat{i}", [CAMPAIGN_WRAPPER] * (2 + i) + [5000 + i], card=f"pm_sat{i}")
    world.add("once", [CAMPAIGN_WRAPPER, 6000, 6001])  # one use is not reuse
    for i in range(40):  # the crowd: own prompts, and a popular opening used by many
        world.add(f"user{i:02d}", [7000 + 10 * i + k for k in range(4)] + [POPULAR_WRAPPER] * 3)
    return world.context()


@pytest.fixture(scope="module")
def context() -> ScanContext:
    return build()


def test_satellites_join_the_campaign_in_proportion_to_their_reuse(context: ScanContext) -> None:
    clusters = find_clusters(context).clusters
    campaign = next(cid for cid, m in clusters.items() if "camp0" in m)
    assert sorted(clusters[campaign]) == [f"camp{i}" for i in range(6)]
    found = inheritance(context)
    assert found.members == {campaign: {"sat0": 0.25, "sat1": 0.375, "sat2": 0.5}}
    # Two fingerprint uses are the least that counts; a single one is chance.
    assert "once" not in found.members[campaign]


def test_a_popular_opening_is_not_a_campaign_fingerprint(context: ScanContext) -> None:
    attached = {a for members in inheritance(context).members.values() for a in members}
    assert not any(a.startswith("user") for a in attached)


def test_inheritance_evidence_stays_under_the_family_floor(context: ScanContext) -> None:
    evidence = inheritance(context).evidence
    assert {e.subject for e in evidence} == {"sat0", "sat1", "sat2"}
    assert all(e.family == INFO.family and e.strength <= 0.25 for e in evidence)
    assert all("distinctive prompt" in e.summary for e in evidence)


HOUSE_RULE = 424242
STOCK_PHRASE = 515151


def test_a_paraphrasing_replacement_inherits_through_the_house_rule() -> None:
    """The campaign's replacement account rewords every wrapper but keeps the house rule;
    a crowd that shares a stock phrase with the campaign inherits nothing."""
    world = World()
    for i in range(6):
        world.add(
            f"camp{i}",
            [CAMPAIGN_WRAPPER] * 12,
            card="pm_campaign",
            sentences=[[HOUSE_RULE, STOCK_PHRASE]] * 12,
        )
    rule = [[HOUSE_RULE]] * 3 + [[]] * 5
    world.add("reworded", [8000 + k for k in range(8)], card="pm_new", sentences=rule)
    for i in range(30):
        world.add(
            f"user{i:02d}",
            [9000 + 10 * i + k for k in range(4)],
            card=f"pm_user{i}",
            sentences=[[STOCK_PHRASE]] * 2 + [[]] * 2,
        )
    context = world.context()
    campaign = next(cid for cid, m in find_clusters(context).clusters.items() if "camp0" in m)
    found = inheritance(context)
    assert found.members == {campaign: {"reworded": 0.375}}  # 3 of 4 full uses × 0.5
    (evidence,) = found.evidence
    assert "instruction sentence" in evidence.summary and "(3 requests)" in evidence.summary


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="full_uses"):
        Settings(min_uses=5, full_uses=2)
    with pytest.raises(ValueError, match="max_outsider_share"):
        Settings(max_outsider_share=1.5)


def build_fleet() -> ScanContext:
    """A paraphrasing campaign: two clusters (cards) and many small accounts, all drawing
    their wrappers from one phrase book; and a crowd sharing one popular opening."""
    world = World()
    for part, own in (("a", CAMPAIGN_WRAPPER), ("b", CAMPAIGN_WRAPPER + 1)):
        for i in range(4):  # the graph found two pieces of the campaign
            world.add(f"core{part}{i}", [own] * 12 + list(FLEET_WRAPPERS) * 2, card=f"pm_{part}")
    for i in range(24):  # more small accounts than clustered ones: a fleet, not a crowd
        mine = [FLEET_WRAPPERS[(i + k) % 4] for k in range(2)]
        world.add(f"small{i:02d}", [*sorted(mine * 2), 8000 + i])
    for i in range(30):  # the crowd: one common opening each, nothing else of the campaign
        world.add(f"user{i:02d}", [7000 + 10 * i + k for k in range(4)] + [FLEET_WRAPPERS[0]] * 2)
    return world.context()


def test_a_paraphrasing_fleet_joins_even_when_it_outnumbers_the_cluster() -> None:
    context = build_fleet()
    clusters = find_clusters(context).clusters
    pieces = {cid for cid, m in clusters.items() if any(a.startswith("core") for a in m)}
    assert len(pieces) == 2
    found = inheritance(context)
    attached = {a: cid for cid, members in found.members.items() for a in members}
    # Each small account reuses the phrase book shared by both pieces: it joins one of them.
    assert {a for a in attached if a.startswith("small")} == {f"small{i:02d}" for i in range(24)}
    assert set(attached.values()) <= pieces
    # A crowd member that shares one phrasing with the campaign, and nothing else, stays out.
    assert not any(a.startswith("user") for a in attached)
    # Each piece's members carry the other piece's fingerprints: each is linked to the other.
    links = {
        e.subject: e.details["cluster_id"] for e in found.evidence if e.subject_kind == "cluster"
    }
    assert set(links) == pieces and {links[p] for p in pieces} == pieces
    assert all(links[p] != p for p in pieces)


def test_one_company_sending_a_campaigns_public_prompts_is_not_a_piece_of_it() -> None:
    world = World()
    for i in range(4):  # the campaign, with its own wrapper and a public prompt set
        world.add(f"camp{i}", [CAMPAIGN_WRAPPER] * 12 + list(FLEET_WRAPPERS) * 2, card="pm_c")
    for i in range(6):  # a company on one card and one organisation, sending the same set
        world.add(f"corp{i}", [900 + i] * 12 + list(FLEET_WRAPPERS) * 2, "pm_corp", "org_corp")
    context = world.context()
    clusters = find_clusters(context).clusters
    corp = next(cid for cid, m in clusters.items() if "corp0" in m)
    assert find_clusters(context).profiles[corp].diversity == 0.0
    linked = {e.subject for e in inheritance(context).evidence if e.subject_kind == "cluster"}
    assert corp not in linked


def test_the_ordinary_chat_a_campaign_mixes_in_is_not_its_fingerprint() -> None:
    """A campaign asks popular questions as cover; customers who ask them too are not its
    satellites, however few of them there are."""
    world = World()
    cover = 4242
    for i in range(6):
        world.add(f"camp{i}", [CAMPAIGN_WRAPPER] * 20 + [cover] * 3, card="pm_campaign")
    for i in range(3):
        world.add(f"user{i}", [cover] * 3 + [5000 + i])
    found = inheritance(world.context())
    assert not any(a.startswith("user") for m in found.members.values() for a in m)


def test_an_account_that_rarely_uses_the_campaigns_wrapper_is_not_attached() -> None:
    world = World()
    for i in range(6):
        world.add(f"camp{i}", [CAMPAIGN_WRAPPER] * 20, card="pm_campaign")
    world.add("busy", [CAMPAIGN_WRAPPER] * 4 + [6000 + k for k in range(60)])
    world.add("sat", [CAMPAIGN_WRAPPER] * 4 + [6100, 6101])
    found = inheritance(world.context())
    attached = {a for m in found.members.values() for a in m}
    assert "sat" in attached and "busy" not in attached


def build_split_fleet(library: tuple[int, ...]) -> World:
    """Five clusters of three unrelated accounts each (own cards, one piece wrapper tying
    each cluster), all also using the wrappers of ``library``; and ten small accounts that
    send only library wrappers."""
    world = World()
    for piece, own in enumerate(PIECE_WRAPPERS):
        for i in range(3):
            world.add(f"piece{piece}-{i}", [own] * 12 + list(library) * 2, card=f"pm_{piece}{i}")
    for i in range(10):
        mine = [library[(i + k) % len(library)] for k in range(2)]
        world.add(f"small{i}", [*sorted(mine * 2), 8000 + i], card=f"pm_small{i}")
    return world


def _attached(context: ScanContext) -> set[str]:
    return {a for members in inheritance(context).members.values() for a in members}


def test_a_fleet_the_graph_split_into_many_clusters_keeps_its_phrase_book() -> None:
    """Five pieces that rely on the same four wrappers are sisters: none counts among the
    "other clusters" of another's wrappers, so the phrase book stays distinctive and the
    small accounts that send it join the fleet."""
    context = build_split_fleet(FLEET_WRAPPERS).context()
    clusters = find_clusters(context).clusters
    pieces = [cid for cid, m in clusters.items() if any(a.startswith("piece") for a in m)]
    assert len(pieces) == 5 and all(len(clusters[cid]) == 3 for cid in pieces)
    assert _attached(context) == {f"small{i}" for i in range(10)}
    # Counted as other clusters (sisters need more shared wrappers than there are), five
    # clusters using a wrapper make it a phrasing many groups share: nobody is attached.
    strict = ScanContext(con=context.con, config={INFO.id: {"min_sister_values": 5}})
    assert _attached(strict) == set()


def test_groups_sharing_one_public_phrasing_are_not_sisters() -> None:
    """Five groups of unrelated accounts that share one harvesting wrapper (a public
    benchmark's line) and nothing else: it stays a phrasing many groups share."""
    context = build_split_fleet((CAMPAIGN_WRAPPER + 1,)).context()
    assert _attached(context) == set()
    loose = ScanContext(con=context.con, config={INFO.id: {"min_sister_values": 1}})
    assert _attached(loose) == {f"small{i}" for i in range(10)}


def test_an_outsider_joins_through_a_chain_of_shared_fingerprints_not_across_campaigns() -> None:
    """The house rule ties pieces A and B, a library phrasing ties B and C: one campaign,
    joined where the outsider is most attached.  Two clusters with nothing in common are two
    campaigns: left to a person."""
    rule, phrasing, other = ("instruction_sentence", 1, 4), ("wrapper", 2, 2), ("wrapper", 3, 4)
    sizes = {"A": ["a"] * 11, "B": ["b"] * 2, "C": ["c"] * 30}
    chain = {"A": [rule, phrasing], "B": [rule], "C": [phrasing]}
    assert _one_campaign(chain, sizes, Settings()) == ("A", 0.5)
    assert _one_campaign({"A": [rule], "C": [other]}, sizes, Settings()) is None
    assert _one_campaign({"A": [rule], "B": [rule], "C": [other]}, sizes, Settings()) is None
