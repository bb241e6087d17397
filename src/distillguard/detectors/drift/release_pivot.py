"""DG-501 release pivot: an account (or cluster) that moves its traffic to a new model
within hours of its release.

A campaign chasing the newest capability re-points its scripts the day a model ships (one
reported campaign moved half its traffic within 24 hours).  Benchmark companies and
agentic developers also switch fast, legitimately, so the strength is capped
(``max_strength``) and the words stay factual.  For each release found by
:func:`~distillguard.detectors.drift.releases.detect_releases` and each subject with
traffic before it:

    share_24h = requests on the new model in [release, release + 24 h)
                / all the subject's requests in that window
    strength  = max_strength × ramp(share_24h, min_share, full_share)
                × log_ramp(pre_release_exchanges, min_pre_release, full_pre_release)
                × ramp(window_exchanges_24h, min_window_exchanges, full_window_exchanges)

The 48 h share, hours to the first request on the new model and the new-model requests
relative to the subject's own pre-release daily volume go in the details.  One evidence
per subject: its strongest release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import (
    check_range,
    check_unit,
    count,
    load_settings,
    log_ramp,
    percent,
    ramp,
    rounded,
)
from distillguard.detectors.context import ScanContext
from distillguard.detectors.drift.releases import Release, ReleaseRules, detect_releases

INFO = DetectorInfo(
    id="DG-501",
    version="1.0",
    name="release pivot",
    description="Traffic moved to a newly released model within 24 hours of its release.",
    family="drift",
    atlas=(ATLAS["extract_model"],),
)

HOUR_SECONDS = 3600.0


@dataclass(frozen=True)
class Settings:
    """Defaults keep the strength moderate: fast adopters exist among honest customers."""

    min_share: float = 0.2
    full_share: float = 0.6
    min_pre_release: float = 20.0
    full_pre_release: float = 100.0
    min_window_exchanges: float = 3.0
    full_window_exchanges: float = 15.0
    max_strength: float = 0.5
    emit_above: float = 0.05
    release_min_hours_after_start: float = 48.0
    release_min_exchanges: int = 50
    release_min_accounts: int = 3
    release_min_share_after: float = 0.02

    def __post_init__(self) -> None:
        check_range(INFO.id, "share", self.min_share, self.full_share)
        check_range(INFO.id, "pre_release", self.min_pre_release, self.full_pre_release)
        check_range(
            INFO.id, "window_exchanges", self.min_window_exchanges, self.full_window_exchanges
        )
        if self.min_pre_release <= 0:
            raise ValueError(f"{INFO.id}: min_pre_release must be positive")
        for name in ("min_share", "full_share", "max_strength", "emit_above"):
            check_unit(INFO.id, name, getattr(self, name))

    def release_rules(self) -> ReleaseRules:
        return ReleaseRules(
            min_hours_after_start=self.release_min_hours_after_start,
            min_exchanges=self.release_min_exchanges,
            min_accounts=self.release_min_accounts,
            min_share_after=self.release_min_share_after,
        )


def pivot_table(exchanges: ir.Table, release: Release) -> ir.Table:
    """Per ``subject`` (a column of ``exchanges``): the pivot numbers for one release.

    Columns: ``pre_release_exchanges``, ``pre_release_days``, ``window_exchanges_24h``,
    ``new_model_24h``, ``window_exchanges_48h``, ``new_model_48h``, ``first_new_ts``.
    Subjects without traffic before the release are left out: a pivot needs a before.
    """
    start = ibis.literal(release.first_seen)
    end_24 = ibis.literal(release.first_seen + timedelta(hours=24))
    end_48 = ibis.literal(release.first_seen + timedelta(hours=48))
    before = exchanges.ts < start
    in_24 = (exchanges.ts >= start) & (exchanges.ts < end_24)
    in_48 = (exchanges.ts >= start) & (exchanges.ts < end_48)
    on_new = exchanges.model == release.model
    table = exchanges.group_by("subject").aggregate(
        pre_release_exchanges=before.cast("int64").sum(),
        pre_release_days=exchanges.ts.date().nunique(where=before),
        window_exchanges_24h=in_24.cast("int64").sum(),
        new_model_24h=(in_24 & on_new).cast("int64").sum(),
        window_exchanges_48h=in_48.cast("int64").sum(),
        new_model_48h=(in_48 & on_new).cast("int64").sum(),
        first_new_ts=exchanges.ts.min(where=on_new),
    )
    return table.filter(table.pre_release_exchanges > 0)


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).astype(float)


def _evidence_for(
    frame: pd.DataFrame, release: Release, settings: Settings, subject_kind: str
) -> list[Evidence]:
    frame = frame.copy()
    frame["share_24h"] = _share(frame["new_model_24h"], frame["window_exchanges_24h"])
    frame["share_48h"] = _share(frame["new_model_48h"], frame["window_exchanges_48h"])
    frame["pre_release_daily"] = _share(frame["pre_release_exchanges"], frame["pre_release_days"])
    frame["strength"] = (
        settings.max_strength
        * ramp(frame["share_24h"], settings.min_share, settings.full_share)
        * log_ramp(
            frame["pre_release_exchanges"], settings.min_pre_release, settings.full_pre_release
        )
        * ramp(
            frame["window_exchanges_24h"],
            settings.min_window_exchanges,
            settings.full_window_exchanges,
        )
    )
    evidence: list[Evidence] = []
    for row in frame.itertuples(index=False):
        if row.strength <= settings.emit_above:
            continue
        first_new = pd.Timestamp(row.first_new_ts)
        if first_new.tzinfo is None:
            first_new = first_new.tz_localize("UTC")
        hours_to_first = (first_new - pd.Timestamp(release.first_seen)).total_seconds()
        hours_to_first /= HOUR_SECONDS
        relative = float(row.new_model_24h) / float(row.pre_release_daily)
        who = "cluster" if subject_kind == "cluster" else "account"
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=str(row.subject),
                subject_kind=subject_kind,
                strength=rounded(row.strength),
                summary=(
                    f"moved {percent(row.share_24h)} of its traffic to {release.model} within "
                    f"24 h of its release (first request on it after {hours_to_first:.0f} h; "
                    f"{percent(row.share_48h)} within 48 h); the {who} sent "
                    f"{count(row.pre_release_exchanges)} requests before the release, "
                    f"{count(row.pre_release_daily)} a day"
                ),
                details={
                    "model": release.model,
                    "release_first_seen": release.first_seen.isoformat(),
                    "share_24h": rounded(row.share_24h),
                    "share_48h": rounded(row.share_48h),
                    "new_model_24h": int(row.new_model_24h),
                    "window_exchanges_24h": int(row.window_exchanges_24h),
                    "new_model_48h": int(row.new_model_48h),
                    "window_exchanges_48h": int(row.window_exchanges_48h),
                    "hours_to_first_request": rounded(hours_to_first),
                    "pre_release_exchanges": int(row.pre_release_exchanges),
                    "pre_release_daily": rounded(row.pre_release_daily),
                    "new_model_24h_vs_pre_release_day": rounded(relative),
                },
            )
        )
    return evidence


def _strongest_per_subject(evidence: list[Evidence]) -> list[Evidence]:
    best: dict[str, Evidence] = {}
    for item in evidence:
        kept = best.get(item.subject)
        if kept is None or item.strength > kept.strength:
            best[item.subject] = item
    return [best[subject] for subject in sorted(best)]


RELEASES_FRAME = "drift.releases"


def scan_releases(context: ScanContext) -> list[Release]:
    """The releases this scan judges pivots against (DG-501's rules), found once per scan
    and shared by the account and cluster pivots and the report."""

    def build(ctx: ScanContext) -> pd.DataFrame:
        settings = load_settings(Settings, INFO.id, ctx.settings(INFO.id))
        frame = pd.DataFrame()
        frame.attrs["releases"] = detect_releases(ctx, settings.release_rules())
        return frame

    releases: list[Release] = context.frame(RELEASES_FRAME, build).attrs["releases"]
    return releases


def _pivots(context: ScanContext, exchanges: ir.Table, subject_kind: str) -> list[Evidence]:
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    evidence: list[Evidence] = []
    for release in scan_releases(context):
        frame = context.con.to_pandas(pivot_table(exchanges, release))
        evidence.extend(_evidence_for(frame, release, settings, subject_kind))
    return _strongest_per_subject(evidence)


def detect(context: ScanContext) -> list[Evidence]:
    """Per-account release pivots (one evidence per account, its strongest release)."""
    exchanges = context.con.table("exchanges")
    return _pivots(context, exchanges.mutate(subject=exchanges.account_id), "account")


def cluster_pivot(context: ScanContext, members: dict[str, list[str]]) -> list[Evidence]:
    """The same measure for clusters: ``members`` maps cluster ids to their account ids.

    The cluster's traffic is the union of its members' (an account listed in two clusters
    counts in both).  Evidence has ``subject_kind="cluster"``.
    """
    pairs = [(cluster, account) for cluster, accounts in members.items() for account in accounts]
    if not pairs:
        return []
    membership = ibis.memtable(
        pd.DataFrame(pairs, columns=["subject", "member_account_id"]).drop_duplicates()
    )
    exchanges = context.con.table("exchanges")
    joined = exchanges.join(membership, exchanges.account_id == membership.member_account_id)
    return _pivots(context, joined, "cluster")
