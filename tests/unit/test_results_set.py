"""Property: a results directory read while a scan rewrites it is one scan's or refused.

The writer replaces ``accounts.jsonl`` and ``clusters.jsonl`` and then ``summary.json``, each
atomically; a reader can land after any prefix of those replacements.  Whatever prefix it
sees, it reads either the old scan or the new one, whole, or is told the set is mid-rewrite.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.results import AccountResult, ClusterResult, read_results, write_results
from distillguard.results.reader import MismatchedResults

VERDICTS = ("benign", "review", "distillation")


@st.composite
def scans(draw: st.DrawFn) -> tuple[list[AccountResult], list[ClusterResult]]:
    """A small scan's records: accounts, some of them in one or two clusters."""
    ids = draw(st.lists(st.sampled_from([f"a{i}" for i in range(8)]), unique=True, max_size=6))
    placed = {a: draw(st.sampled_from([None, "c1", "c2"])) for a in ids}
    accounts = [
        AccountResult(a, draw(st.floats(0, 1)), draw(st.sampled_from(VERDICTS)), placed[a])
        for a in ids
    ]
    clusters = [
        ClusterResult(c, sorted(a for a in ids if placed[a] == c), 0.5, "review", 10)
        for c in ("c1", "c2")
        if any(placed[a] == c for a in ids)
    ]
    return accounts, clusters


def _view(accounts: list[AccountResult], clusters: list[ClusterResult]) -> object:
    """What a reader acts on: each account's verdict and cluster, each cluster's members."""
    return (
        sorted((a.account_id, a.verdict, a.cluster_id or "") for a in accounts),
        sorted((c.cluster_id, tuple(c.account_ids)) for c in clusters),
    )


@settings(max_examples=60, deadline=None)
@given(old=scans(), new=scans(), landed=st.integers(0, 3))
def test_a_reader_sees_one_scan_whole_or_is_told_to_wait(
    old: tuple[list[AccountResult], list[ClusterResult]],
    new: tuple[list[AccountResult], list[ClusterResult]],
    landed: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        live, staged = Path(tmp) / "live", Path(tmp) / "staged"
        write_results(live, *old, {}, lambda *_: "")
        write_results(staged, *new, {}, lambda *_: "")
        for name in ("accounts.jsonl", "clusters.jsonl", "summary.json")[:landed]:
            shutil.copyfile(staged / name, live / name)  # the writer's order
        try:
            results = read_results(live)
        except MismatchedResults:
            assert 0 < landed < 3
            return
    seen = _view(results.accounts, results.clusters)
    assert seen in (_view(*old), _view(*new))
    if landed == 0:
        assert seen == _view(*old)
    if landed == 3:
        assert seen == _view(*new)
