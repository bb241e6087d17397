"""The allow list (trusted partners): configuration, matching, verdict caps, end to end."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from distillguard.cli.main import main
from distillguard.engine.config import ScanConfig, load_config
from distillguard.engine.scan import run_scan
from distillguard.engine.store import open_store
from distillguard.errors import UserError
from distillguard.ingest import ingest_files
from distillguard.results import read_results
from distillguard.results.model import AccountResult, ClusterResult, Reason
from distillguard.scoring.allow_list import (
    REASON_DETECTOR,
    AllowEntry,
    apply_allow_list,
    match_accounts,
)
from distillguard.sim.writer import simulate


def _allow(**fields: object) -> str:
    """One ``[[allow]]`` entry in TOML (a date stays a TOML date)."""
    lines = ["[[allow]]"]
    for key, value in fields.items():
        text = value.isoformat() if isinstance(value, date) else json.dumps(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n\n"


GOOD = _allow(
    accounts=["acct-123", "acct-456", "acct-123"],
    organizations=["org-benchlab"],
    email_domains=["BenchLab.Example "],
    reason="benchmark partner,   contract BL-2026-04",
    expires=date(2027, 6, 30),
) + _allow(organizations=["org-labels"], reason="labelling vendor")


def _toml(tmp_path: Path, text: str, name: str = "scan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- configuration -----------------------------------------------------------------------


def test_allow_entries_load_normalised_and_enter_the_hash(tmp_path: Path) -> None:
    config = load_config(_toml(tmp_path, GOOD))
    first, second = config.allow
    assert first == AllowEntry(
        index=0,
        reason="benchmark partner, contract BL-2026-04",
        accounts=("acct-123", "acct-456"),
        organizations=("org-benchlab",),
        email_domains=("benchlab.example",),
        expires=date(2027, 6, 30),
    )
    assert second.name == "allow[1]" and second.expires is None
    assert config.as_dict()["allow"][0]["expires"] == "2027-06-30"
    assert config.digest() != ScanConfig().digest()


def test_a_file_without_allow_entries_keeps_the_hash_it_had(tmp_path: Path) -> None:
    plain = load_config(_toml(tmp_path, "[scoring]\nreview_threshold = 0.5\n"))
    assert plain.allow == ()
    assert "allow" not in plain.as_dict()
    assert plain.digest() == ScanConfig().digest()


ENTRY = 'organizations = ["org-x"]\nreason = "partner"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"[[allow]]\n{ENTRY}acount = ['a']\n",
            r"allow\[0\] \(the 1st \[\[allow\]\] entry\) has unknown key\(s\) \['acount'\]",
        ),
        ('[[allow]]\nreason = "partner"\n', r"allow\[0\] .*selects no account; give at least"),
        (
            '[[allow]]\naccounts = []\norganizations = []\nreason = "partner"\n',
            r"allow\[0\] .*selects no account",
        ),
        (
            f"[[allow]]\n{ENTRY}\n[[allow]]\naccounts = ['a']\n",
            r"allow\[1\]\.reason is required and must be a non-empty string \(missing\)",
        ),
        ("[[allow]]\naccounts = ['a']\nreason = '  '\n", r"allow\[0\]\.reason is required"),
        ("[[allow]]\naccounts = ['a']\nreason = 3\n", r"allow\[0\]\.reason .*got 3"),
        (
            "[[allow]]\naccounts = 'acct-1'\nreason = 'p'\n",
            r"allow\[0\]\.accounts must be a list, got str; write it as a list of strings, "
            r'e\.g\. accounts = \["acct-123"\]',
        ),
        (
            "[[allow]]\norganizations = ['org', 7]\nreason = 'p'\n",
            r"allow\[0\]\.organizations\[1\] must be a non-empty string, got 7",
        ),
        (
            "[[allow]]\nemail_domains = ['ops@benchlab.example']\nreason = 'p'\n",
            r"allow\[0\]\.email_domains\[0\] 'ops@benchlab\.example' is not a domain",
        ),
        (
            f"[[allow]]\n{ENTRY}expires = '2027-06-30'\n",
            r"allow\[0\]\.expires must be a TOML date such as expires = 2027-06-30 \(no quotes",
        ),
        (
            f"[[allow]]\n{ENTRY}expires = 2027-06-30T00:00:00Z\n",
            r"allow\[0\]\.expires must be a TOML date .*no time of day",
        ),
        (f"[allow]\n{ENTRY}", r"write each allow-list entry as \[\[allow\]\]"),
        ("allow = [1]\n", r"allow\[0\] \(the 1st \[\[allow\]\] entry\) must be a table"),
        ("allow = 'everyone'\n", r"allow must be a list of \[\[allow\]\] entries"),
    ],
)
def test_invalid_allow_entries_are_clear_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = _toml(tmp_path, text, "partners.toml")
    with pytest.raises(UserError, match=rf"partners\.toml: {expected}"):
        load_config(path)


def test_the_cli_reports_a_bad_entry_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchanges = tmp_path / "ex.jsonl"
    exchanges.write_text("")
    path = _toml(tmp_path, "[[allow]]\naccounts = ['a']\n", "partners.toml")
    code = main(
        ["scan", "--exchanges", str(exchanges), "--out", str(tmp_path / "p"), "--config", str(path)]
    )
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "partners.toml: allow[0].reason is required" in err
    assert "Traceback" not in err


# --- matching and capping on a small store -----------------------------------------------


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """A store with five accounts: organizations from sign-ups and from requests only."""
    exchanges = [
        {
            "exchange_id": f"e{i}",
            "timestamp": "2026-10-14T12:00:00Z",
            "account_id": account,
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            **({"organization_id": org} if org else {}),
        }
        for i, (account, org) in enumerate(
            [("a1", None), ("a2", None), ("a3", "org-req"), ("a4", None), ("a5", None)]
        )
    ]
    accounts = [
        {"account_id": "a1", "organization_id": "org-sign", "email_domain": "gmail.com"},
        {"account_id": "a2", "email_domain": "BenchLab.Example"},
        {"account_id": "a3"},
        {
            "account_id": "a4",
            "organization_id": "org-other",
            "email_domain": "benchlab.example.org",
        },
        {"account_id": "a5"},
    ]
    con = open_store(None)
    ingest_files(
        con,
        [_jsonl(tmp_path / "ex.jsonl", exchanges)],
        [_jsonl(tmp_path / "acc.jsonl", accounts)],
        quarantine_path=tmp_path / "q.jsonl",
        progress=False,
    )
    return con


def test_accounts_match_by_id_organization_and_email_domain(store: Any) -> None:
    entries = [
        AllowEntry(0, "partner", organizations=("org-sign", "org-req")),
        AllowEntry(1, "vendor", accounts=("a5", "a1"), email_domains=("benchlab.example",)),
    ]
    found = match_accounts(store, entries, ["a1", "a2", "a3", "a4", "a5"])
    assert sorted(found) == ["a1", "a2", "a3", "a5"]  # a4's domain is another one
    assert found["a1"].entry.name == "allow[0]"
    assert found["a1"].matched == ("organization org-sign",)
    assert found["a1"].also == ("allow[1]",)
    assert found["a2"].matched == ("e-mail domain benchlab.example",)  # case-insensitive
    assert found["a3"].matched == ("organization org-req",)  # from requests only
    assert found["a5"].matched == ("account a5",) and found["a5"].also == ()


def _account(account_id: str, verdict: str, score: float, cluster: str | None = None) -> Any:
    return AccountResult(account_id, score, verdict, cluster, [Reason("DG-205", "harvest", 0.5)])


def test_verdicts_are_capped_at_review_with_the_evidence_kept(
    store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = [
        _account("a1", "distillation", 0.87, "C-1"),
        _account("a2", "review", 0.55),
        _account("a3", "benign", 0.1),
        _account("a4", "distillation", 0.9, "C-1"),
        _account("a5", "distillation", 0.9, "C-1"),
    ]
    clusters = [ClusterResult("C-1", ["a1", "a4", "a5"], 0.95, "distillation", 10)]
    entries = [
        AllowEntry(0, "benchmark partner", organizations=("org-sign", "org-req")),
        AllowEntry(1, "old programme", accounts=("a5",), expires=date(2026, 10, 13)),
        AllowEntry(2, "vendor", email_domains=("benchlab.example",), expires=date(2026, 10, 14)),
    ]
    until = datetime(2026, 10, 14, 23, 0, tzinfo=UTC)
    out, out_clusters, record = apply_allow_list(store, entries, accounts, clusters, until)
    by_id = {a.account_id: a for a in out}

    capped = by_id["a1"]
    assert (capped.verdict, capped.score, capped.cluster_id) == ("review", 0.87, "C-1")
    assert capped.reasons[1:] == accounts[0].reasons
    assert capped.reasons[0] == Reason(
        REASON_DETECTOR,
        'allow list: "benchmark partner" (allow[0], matched organization org-sign); '
        "without it the verdict would be distillation (score 0.87)",
        -1.0,
    )
    assert by_id["a2"].verdict == "review"  # matched on the expiry day itself
    assert by_id["a2"].reasons[-1].weight == 0.0
    assert "the verdict is review either way" in by_id["a2"].reasons[-1].summary
    assert by_id["a3"] == accounts[2]  # benign stays benign, without an extra reason
    assert by_id["a4"] == accounts[3]  # not listed
    assert by_id["a5"] == accounts[4]  # its entry expired the day before the data ends

    (cluster,) = out_clusters
    assert (cluster.verdict, cluster.score) == ("distillation", 0.95)
    assert cluster.reasons[-1].detector == REASON_DETECTOR
    assert cluster.reasons[-1].summary.startswith("allow list: 1 of 3 members is allow-listed (a1)")
    assert "keys are compromised" in cluster.reasons[-1].summary

    assert record == {
        "entries": 3,
        "as_of": "2026-10-14",
        "expired": ["allow[1]"],
        "accounts": 3,
        "capped": 1,
        "by_entry": {
            "allow[0]": {"accounts": 2, "capped": 1},
            "allow[2]": {"accounts": 1, "capped": 0},
        },
    }
    err = capsys.readouterr().err
    assert 'allow[1] ("old programme") expired on 2026-10-13' in err
    assert "it no longer applies" in err
    assert 'allow[0] ("benchmark partner") matched 2 account(s) seen; 1 distillation' in err


def test_too_broad_entries_still_apply_and_are_reported(
    store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = [_account(f"x{i}", "benign", 0.1) for i in range(3000)]
    accounts = [*seen, _account("a1", "distillation", 0.9), _account("a2", "review", 0.5)]
    entries = [
        AllowEntry(0, "partner", organizations=("org-sign", "org-req")),
        AllowEntry(1, "everyone at gmail", email_domains=("GMail.com", "benchlab.example")),
    ]
    until = datetime(2026, 10, 14, tzinfo=UTC)
    out, _, record = apply_allow_list(store, entries, accounts, [], until)
    assert {a.account_id: a.verdict for a in out}["a1"] == "review"  # still applies
    assert list(record["broad"]) == ["allow[1]"]
    assert "mailbox provider(s) GMail.com" in record["broad"]["allow[1]"]
    assert "allow list: allow[1] is too broad" in capsys.readouterr().err
    # Matching more than 1% of the accounts seen (and at least 20) is too broad as well.
    few = [_account(f"a{i}", "benign", 0.1) for i in (1, 2, 3, 5)]
    assert "broad" not in apply_allow_list(store, entries[:1], few, [], until)[2]
    with_many = [AllowEntry(0, "many", accounts=tuple(f"x{i}" for i in range(40)))]
    _, _, many = apply_allow_list(store, with_many, accounts, [], until)
    assert (
        "it matched 40 of the 3,002 accounts seen (1.3%; more than 1%)" in many["broad"]["allow[0]"]
    )


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("allow-sim")
    simulate(out, seed=7, exchanges=20_000, progress=False)
    return out


def _scan(sim: Path, out: Path, config: ScanConfig) -> Path:
    run_scan(
        [sim / "exchanges.jsonl"],
        [sim / "accounts.jsonl"],
        out,
        config=config,
        progress=False,
    )
    return out


def test_an_allow_listed_campaign_account_is_capped_and_its_fleet_still_condemned(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before_dir = _scan(sim, tmp_path / "before", ScanConfig())
    before = {a.account_id: a for a in read_results(before_dir).accounts}
    before_clusters = {c.cluster_id: c for c in read_results(before_dir).clusters}
    orgs = {
        r["account_id"]: r.get("organization_id")
        for r in map(json.loads, (sim / "accounts.jsonl").open())
    }
    condemned = sorted(a for a, r in before.items() if r.verdict == "distillation")
    with_org = [a for a in condemned if orgs.get(a)]
    assert with_org, "the simulated campaign needs an account with an organization"
    by_org = with_org[0]
    org = orgs[by_org]
    requests = (json.loads(line) for line in (sim / "exchanges.jsonl").open())
    org_members = {a for a, o in orgs.items() if o == org} | {
        r["account_id"] for r in requests if r.get("organization_id") == org
    }
    cluster_id = before[by_org].cluster_id
    fleet = [a for a in condemned if before[a].cluster_id == cluster_id and a not in org_members]
    assert cluster_id and len(fleet) >= 3, "the campaign's cluster needs more members"
    by_id, expired = fleet[0], fleet[1]

    config_path = _toml(
        tmp_path,
        _allow(accounts=[by_id], reason="benchmark partner, contract BL-2026-04")
        + _allow(organizations=[org], reason="labelling vendor", expires=date(2099, 12, 31))
        + _allow(accounts=[expired], reason="research programme", expires=date(2020, 1, 31)),
    )
    config = load_config(config_path)
    after_dir = _scan(sim, tmp_path / "after", config)
    results = read_results(after_dir)  # validates every line
    after = {a.account_id: a for a in results.accounts}

    for account, entry, matched in [
        (by_id, 'allow list: "benchmark partner, contract BL-2026-04" (allow[0]', "account"),
        (by_org, 'allow list: "labelling vendor" (allow[1]', f"organization {org}"),
    ]:
        was, now = before[account], after[account]
        assert now.verdict == "review"
        assert (now.score, now.cluster_id) == (was.score, was.cluster_id)
        assert now.reasons[0].detector == REASON_DETECTOR and now.reasons[0].weight == -1.0
        assert now.reasons[0].summary.startswith(entry)
        assert f"matched {matched}" in now.reasons[0].summary
        assert now.reasons[0].summary.endswith(
            f"without it the verdict would be distillation (score {was.score:.2f})"
        )
        assert now.reasons[1:] == was.reasons  # every piece of evidence kept

    # The expired entry does not apply, and the scan says so.
    assert after[expired] == before[expired]
    assert after[expired].verdict == "distillation"
    err = capsys.readouterr().err
    assert 'allow[2] ("research programme") expired on 2020-01-31' in err

    # One partner account in the fleet launders nobody: everyone else is judged as before.
    listed = {by_id} | org_members
    for account, result in after.items():
        if account not in listed:
            assert result == before[account], account
    assert all(after[a].verdict == "distillation" for a in fleet[1:])
    cluster = next(c for c in results.clusters if c.cluster_id == cluster_id)
    was_cluster = before_clusters[cluster_id]
    assert (cluster.verdict, cluster.score) == ("distillation", was_cluster.score)
    in_cluster = sorted(a for a in cluster.account_ids if a in listed)
    note = [r for r in cluster.reasons if r.detector == REASON_DETECTOR]
    assert len(note) == 1
    assert note[0].summary.startswith(
        f"allow list: {len(in_cluster)} of {len(cluster.account_ids)} members"
    )

    summary = json.loads((after_dir / "summary.json").read_text())
    capped = sum(1 for a in listed if before[a].verdict == "distillation")
    assert summary["allow_list"]["capped"] == capped
    assert summary["allow_list"]["accounts"] == len(listed & set(after))
    assert summary["allow_list"]["expired"] == ["allow[2]"]
    assert summary["counts"]["verdicts"]["distillation"] == (
        sum(1 for r in before.values() if r.verdict == "distillation") - capped
    )
    assert summary["configuration"]["hash"] == config.digest() != ScanConfig().digest()
    assert "allow_list" not in json.loads((before_dir / "summary.json").read_text())
