"""The batch scan: ingest → features → detectors → clusters → scoring → results.

Each stage is timed and recorded in summary.json with the detector ids and versions and the
hash of the configuration, so a results directory says what produced it.  With a persistent
store (``--store``) the next day's scan reads only exchanges it has not seen (ingest keeps
the first copy of an id) and computes features only for new exchanges.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from distillguard import __version__
from distillguard.detectors.base import DetectorInfo, Evidence
from distillguard.detectors.context import ScanContext
from distillguard.engine.backends import check_engine, relational_backend
from distillguard.engine.config import ScanConfig
from distillguard.engine.memory import release_unused_memory
from distillguard.engine.room import StoreRoom, stopping_clearly
from distillguard.engine.store import open_store
from distillguard.errors import UserError
from distillguard.schema import CONTRACT_VERSION


@dataclass
class StageClock:
    """Wall time of each stage, in order."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, console: Console | None) -> Iterator[None]:
        """Time one stage and say when it is done; what it freed goes back to the system."""
        started = time.perf_counter()
        yield
        release_unused_memory()
        self.seconds[name] = round(time.perf_counter() - started, 3)
        if console is not None:
            console.print(f"[dim]{name}: {self.seconds[name]:.1f} s[/]")


def all_detectors() -> list[Any]:
    """Every registered detector (modules or objects with INFO and detect), in id order."""
    from distillguard.detectors import behaviour, coordination, drift, intel

    found = [*behaviour.DETECTORS, *drift.DETECTORS, *coordination.DETECTORS, *intel.DETECTORS]
    from distillguard.detectors import semantic

    found += semantic.DETECTORS
    return sorted(found, key=lambda d: d.INFO.id)


def detector_infos() -> list[DetectorInfo]:
    """Identity cards of every registered detector."""
    return [d.INFO for d in all_detectors()]


@dataclass(frozen=True)
class ScanOutcome:
    """Where the results are and the summary that was written."""

    out_dir: Path
    summary: dict[str, Any]


def run_scan(
    exchange_paths: Sequence[Path],
    account_paths: Sequence[Path],
    out_dir: Path,
    *,
    config: ScanConfig,
    store_path: Path | None = None,
    input_format: str = "auto",
    progress: bool = True,
    console: Console | None = None,
    engine: str = "duckdb",
    room: StoreRoom | None = None,
) -> ScanOutcome:
    """Run every stage and write the contract's four outputs into ``out_dir``.

    ``room``: the store's memory cap and spill folder (engine/room.py); when DuckDB runs out
    of either, the scan stops with a :class:`UserError` that says what to do.

    ``engine`` picks where the stages after ingestion run: the embedded DuckDB store, or a
    local Spark session fed from it (``pyspark``, see engine/backends.py); the Spark
    session lives as long as the scan.
    """
    check_engine(engine)
    room = room or StoreRoom()
    with ExitStack() as resources, stopping_clearly(room, store_path):
        return _scan(
            exchange_paths,
            account_paths,
            out_dir,
            config=config,
            store_path=store_path,
            input_format=input_format,
            progress=progress,
            console=console,
            engine=engine,
            resources=resources,
            room=room,
        )


def _scan(
    exchange_paths: Sequence[Path],
    account_paths: Sequence[Path],
    out_dir: Path,
    *,
    config: ScanConfig,
    store_path: Path | None,
    input_format: str,
    progress: bool,
    console: Console | None,
    engine: str,
    resources: ExitStack,
    room: StoreRoom,
) -> ScanOutcome:
    from distillguard.detectors.drift.inheritance import inheritance
    from distillguard.detectors.drift.release_pivot import cluster_pivot, scan_releases
    from distillguard.engine import history
    from distillguard.ingest import ingest_files
    from distillguard.report.activity import cluster_activity
    from distillguard.report.html import build_report_html
    from distillguard.results import write_results
    from distillguard.scoring.combine import ClusterInput, score_all

    clock = StageClock()
    out_dir.mkdir(parents=True, exist_ok=True)
    con = open_store(store_path, room=room)
    with clock.stage("ingest", console):
        report = ingest_files(
            con,
            list(exchange_paths),
            list(account_paths),
            fmt=input_format,
            quarantine_path=out_dir / "quarantine.jsonl",
            progress=progress,
            console=console,
        )
    with clock.stage("features", console):
        backend = resources.enter_context(relational_backend(engine, con, progress=progress))
        featured = backend.featured
    context = ScanContext(backend.con, config=config.settings())
    evidence: list[Evidence] = []
    detectors = [d for d in all_detectors() if config.enabled(d.INFO.id)]
    for detector in detectors:
        with clock.stage(f"detector {detector.INFO.id}", None):
            evidence.extend(detector.detect(context))
    from distillguard.detectors.coordination import find_clusters
    from distillguard.detectors.coordination.scoring import tied_by_content_only

    with clock.stage("clusters", console):
        findings = find_clusters(context)
        if config.enabled("DG-501"):
            evidence.extend(cluster_pivot(context, findings.clusters))
        attached = inheritance(context).members if config.enabled("DG-502") else {}
    from ibis import _

    volumes = con.table("exchanges").group_by("account_id").aggregate(n=_.count()).to_pyarrow()
    requests = dict(
        zip(
            (str(a) for a in volumes.column("account_id").to_pylist()),
            (int(n) for n in volumes.column("n").to_pylist()),
            strict=True,
        )
    )
    accounts_seen = list(requests)
    seen = set(accounts_seen)
    # Accounts that signed up but sent nothing are not reported (the contract lists accounts
    # seen in exchanges); a cluster keeps its id if at least two of its members were seen.
    visible = {
        cid: sorted({*(m for m in members if m in seen), *attached.get(cid, {})})
        for cid, members in findings.clusters.items()
    }
    clusters = [
        ClusterInput(
            cluster_id=cid,
            account_ids=visible[cid],
            result_fields={
                "exchanges": findings.exchanges.get(cid, 0),
                "capabilities": findings.capabilities.get(cid, []),
                "first_seen": findings.first_seen.get(cid),
                "last_seen": findings.last_seen.get(cid),
                "indicators": list(findings.indicators.get(cid, [])),
            },
            attachment={**findings.attachment.get(cid, {}), **attached.get(cid, {})},
            satellites=frozenset(attached.get(cid, {})),
            content_only=cid in findings.profiles and tied_by_content_only(findings.profiles[cid]),
        )
        for cid in findings.clusters
        if len(visible[cid]) >= 2
    ]
    with clock.stage("scoring", console):
        account_results, cluster_results = score_all(
            accounts_seen, evidence, clusters, config.scoring, requests
        )
    until = history.data_until(con)
    allow_record: dict[str, Any] | None = None
    if config.allow:
        from distillguard.scoring.allow_list import apply_allow_list

        account_results, cluster_results, allow_record = apply_allow_list(
            con, config.allow, account_results, cluster_results, until
        )
    if store_path is not None and until is not None:
        account_results = history.carry_forward(
            account_results, history.prior_distillation(con, until)
        )
        history.record(con, account_results, until)
        detectors = [*detectors, history]
    with clock.stage("report data", console):
        activity = cluster_activity(
            backend.con,
            cluster_results,
            [(r.model, r.first_seen) for r in scan_releases(context)],
        )
    verdicts: dict[str, int] = {}
    for result in account_results:
        verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
    summary: dict[str, Any] = {
        "distillguard": __version__,
        "contract_version": CONTRACT_VERSION,
        "counts": {
            "exchanges_read": report.read_for("exchanges"),
            "accounts_records_read": report.read_for("accounts"),
            "exchanges_loaded": report.loaded_into("exchanges"),
            "accounts_records_loaded": report.loaded_into("accounts"),
            "quarantined": report.quarantined,
            "exchanges_featured": featured,
            "accounts": len(account_results),
            "clusters": len(cluster_results),
            "verdicts": dict(sorted(verdicts.items())),
        },
        "quarantine": {"file": "quarantine.jsonl", "reasons": dict(report.reasons.most_common())},
        "configuration": {"hash": config.digest(), **config.as_dict()},
        **({"allow_list": allow_record} if allow_record is not None else {}),
        "detectors": [
            {
                "id": d.INFO.id,
                "version": d.INFO.version,
                "name": d.INFO.name,
                "family": d.INFO.family,
                "atlas": list(d.INFO.atlas),
            }
            for d in detectors
        ],
        "coordination_config_hash": findings.config_hash,
        "engine": engine,
        "wall_time_s": clock.seconds,
        "cluster_activity": activity,
    }
    with clock.stage("write", console):
        write_results(out_dir, account_results, cluster_results, summary, build_report_html)
    return ScanOutcome(out_dir, summary)


def require_inputs(paths: Sequence[Path]) -> None:
    """Every input file must exist before anything is read."""
    for path in paths:
        if not path.is_file():
            raise UserError(f"input file {path} does not exist (or is not a file)")
