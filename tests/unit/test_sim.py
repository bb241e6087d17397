"""Simulator: determinism, label isolation, population statistics, release pivot."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from distillguard.sim.scenarios import REPORTED_SHARES
from distillguard.sim.writer import simulate

EXCHANGES = 40_000


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().split("\n") if line]


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, seed=11, exchanges=EXCHANGES, progress=False, workers=2)
    return out


@pytest.fixture(scope="module")
def exchanges(sim_dir: Path) -> list[dict]:
    return _read(sim_dir / "exchanges.jsonl")


@pytest.fixture(scope="module")
def labels(sim_dir: Path) -> dict[str, dict]:
    return {row["account_id"]: row for row in _read(sim_dir / "labels.jsonl")}


def test_same_seed_gives_identical_files_whatever_the_workers(
    tmp_path: Path, sim_dir: Path
) -> None:
    simulate(tmp_path, seed=11, exchanges=EXCHANGES, progress=False, workers=1)
    for name in ("exchanges.jsonl", "accounts.jsonl", "labels.jsonl"):
        assert (tmp_path / name).read_bytes() == (sim_dir / name).read_bytes(), name


def test_other_seed_gives_other_traffic(tmp_path: Path, sim_dir: Path) -> None:
    simulate(tmp_path, seed=12, exchanges=5_000, progress=False, workers=1)
    assert (tmp_path / "exchanges.jsonl").read_bytes()[:5000] != (
        sim_dir / "exchanges.jsonl"
    ).read_bytes()[:5000]


def test_volume_close_to_request(exchanges: list[dict], labels: dict[str, dict]) -> None:
    assert abs(len(exchanges) - EXCHANGES) / EXCHANGES < 0.05
    assert sum(row["exchanges"] for row in labels.values()) == len(exchanges)


def test_labels_never_leak_into_contract_files(sim_dir: Path, labels: dict[str, dict]) -> None:
    words = {"distillation", "benign", "campaign", "population", "label"} | {
        row["population"] for row in labels.values()
    }
    accounts = _read(sim_dir / "accounts.jsonl")
    for record in accounts:
        assert set(record) <= {
            "account_id",
            "created_at",
            "organization_id",
            "email_domain",
            "payment_fingerprint",
            "country",
            "verification",
            "program",
            "signup_ip",
        }
    for record in _read(sim_dir / "exchanges.jsonl")[:3000]:
        for key in ("account_id", "api_key_id", "exchange_id", "organization_id"):
            value = str(record.get(key, ""))
            assert not any(word in value for word in words), (key, value)
    # ids are random: sorting by id must not group campaigns together
    ordered = [labels[a]["label"] for a in sorted(labels)]
    first_half = Counter(ordered[: len(ordered) // 2])["distillation"]
    total = Counter(ordered)["distillation"]
    assert 0.3 < first_half / total < 0.7


def test_every_account_in_exchanges_has_an_accounts_record(
    sim_dir: Path, exchanges: list[dict]
) -> None:
    known = {record["account_id"] for record in _read(sim_dir / "accounts.jsonl")}
    assert {record["account_id"] for record in exchanges} <= known


def test_campaign_shares_follow_the_reports(labels: dict[str, dict]) -> None:
    by_campaign: Counter[str] = Counter()
    for row in labels.values():
        if row["campaign"]:
            by_campaign[row["campaign"]] += row["exchanges"]
    harvest = sum(by_campaign.values())
    total = sum(row["exchanges"] for row in labels.values())
    assert 0.2 < harvest / total < 0.3
    for name in ("agentic_multipath", "agentic_coding_pivot"):
        share = by_campaign[name] / harvest
        assert abs(share - REPORTED_SHARES[name]) / REPORTED_SHARES[name] < 0.25, (name, share)
    assert by_campaign["reasoning_cot"] > 0


def _hour(record: dict) -> int:
    return int(record["timestamp"][11:13])


def test_human_traffic_is_diurnal_and_scripted_traffic_is_not(
    exchanges: list[dict], labels: dict[str, dict]
) -> None:
    hours: dict[str, Counter[int]] = defaultdict(Counter)
    for record in exchanges:
        hours[labels[record["account_id"]]["population"]][_hour(record)] += 1

    def busy_to_quiet(counts: Counter[int]) -> float:
        """Traffic in the busiest eight hours of the day over the quietest eight."""
        ordered = sorted(counts.get(h, 0) for h in range(24))
        return sum(ordered[-8:]) / (sum(ordered[:8]) + 1)

    # corporate teams work office hours in a few time zones; the scripted agentic-coding
    # fleet runs around the clock
    assert busy_to_quiet(hours["corporate_nat_team"]) > 4
    assert busy_to_quiet(hours["agentic_coding_pivot"]) < 2.5


def test_release_pivot(exchanges: list[dict], labels: dict[str, dict], sim_dir: Path) -> None:
    meta = json.loads((sim_dir / "simulation.json").read_text())
    release = datetime.fromisoformat(meta["model_release"]["at"].replace("Z", "+00:00"))
    new_model = meta["model_release"]["model"]

    def share_new(population: str, hours_after: tuple[float, float]) -> float:
        total = new = 0
        for record in exchanges:
            if labels[record["account_id"]]["population"] != population:
                continue
            ts = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
            delta = (ts - release).total_seconds() / 3600
            if hours_after[0] <= delta < hours_after[1]:
                total += 1
                new += record["model"] == new_model
        return new / max(total, 1)

    assert all(
        record["model"] != new_model
        for record in exchanges
        if datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")) < release
    )
    pivot = share_new("agentic_coding_pivot", (20, 30))
    assert 0.35 < pivot < 0.65, pivot
    assert share_new("enterprise_app", (0, 30)) < 0.05
    assert share_new("benchmark_company", (12, 72)) > 0.7  # the hard negative pivots too


def test_hard_negative_populations_are_present(labels: dict[str, dict]) -> None:
    populations = {row["population"] for row in labels.values() if row["label"] == "benign"}
    assert populations >= {
        "casual_chat",
        "enterprise_app",
        "corporate_nat_team",
        "education_cohort",
        "benchmark_company",
        "agentic_developer",
        "labeling_firm",
        "proxy_reseller_customer",
        "reasoning_power_user",
        "exam_prep_user",
        "tutoring_app",
    }


def test_token_counts_follow_prompt_length(exchanges: list[dict]) -> None:
    short = [r["input_tokens"] for r in exchanges if len(json.dumps(r["messages"])) < 300]
    long = [r["input_tokens"] for r in exchanges if len(json.dumps(r["messages"])) > 3000]
    assert short and long
    assert sorted(long)[len(long) // 2] > 4 * sorted(short)[len(short) // 2]


def test_benchmark_teams_rerun_one_public_suite(
    exchanges: list[dict], labels: dict[str, dict]
) -> None:
    """Benchmark firms send the same public items as each other, and send them again."""
    from distillguard.sim.engine import SUITE_ITEMS
    from distillguard.sim.wrappers import BENCHMARK_HARNESS

    def item(prompt: str) -> str:  # the question without the team's harness around it
        for harness in BENCHMARK_HARNESS:
            head, _, tail = harness.replace("{{}}", "{}").partition("{q}")
            if prompt.startswith(head) and prompt.endswith(tail):
                return prompt[len(head) : len(prompt) - len(tail)]
        return prompt

    by_org: dict[str, list[str]] = defaultdict(list)
    for row in exchanges:
        if labels[row["account_id"]]["population"] == "benchmark_company":
            by_org[row["organization_id"]].append(item(row["messages"][-1]["content"]))
    assert len(by_org) >= 2
    sent = [prompt for prompts in by_org.values() for prompt in prompts]
    assert len(set(sent)) <= 5 * SUITE_ITEMS  # five pools' public suites
    assert len(set(sent)) < 0.8 * len(sent)  # re-run: items come back
    suites = [set(prompts) for prompts in by_org.values()]
    assert any(a & b for i, a in enumerate(suites) for b in suites[i + 1 :])  # across teams
