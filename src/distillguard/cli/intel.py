"""Share campaign indicators with peers (STIX 2.1 / TAXII 2.1) and hunt for theirs.

  export   a scan's clusters as one STIX 2.1 bundle: campaigns, unattributed threat actors,
           MITRE ATLAS techniques, indicators (standard patterns), observed data, sightings;
           payment and e-mail values as keyed hashes, networks as /24 or /48 ranges, prompt
           templates as keyed MinHash fingerprints; nothing seen in fewer than k accounts
  push     a bundle to a TAXII 2.1 collection
  pull     a TAXII 2.1 collection (paged) into a bundle file
  hunt     peers' bundles against our own exchanges and accounts: a results directory
           (accounts.jsonl, clusters.jsonl, matches.jsonl) the guard can load

The sharing key (hex) comes from --key-file or $DISTILLGUARD_INTEL_KEY; peers must hold the
same key.  TAXII passwords come from $DISTILLGUARD_TAXII_PASSWORD.  See docs/intel.md.

example:
  distillguard scan --exchanges x.jsonl --accounts a.jsonl --store dg.duckdb --out scan
  distillguard intel export --results scan --store dg.duckdb --key-file intel.key \\
      --producer "Example AI" --out bundle.json
  distillguard intel push --bundle bundle.json --url https://taxii.example/api1/ --collection ID
  distillguard intel pull --url https://taxii.example/api1/ --collection ID --out peers.json
  distillguard intel hunt --bundle peers.json --store dg.duckdb --key-file intel.key --out hunt
  distillguard scan ... --intel peers.json --intel-key intel.key   # as evidence DG-601
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
from rich.console import Console

from distillguard.errors import UserError

HELP = "share campaign indicators as STIX 2.1 / TAXII 2.1 and hunt for peers' indicators"


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, default=None, help="DuckDB store of the scan")
    parser.add_argument("--exchanges", type=Path, nargs="*", default=[], help="exchange logs")
    parser.add_argument("--accounts", type=Path, nargs="*", default=[], help="account records")
    parser.add_argument("--key-file", type=Path, default=None, help="sharing key (hex)")


def _taxii_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="TAXII 2.1 API root URL")
    parser.add_argument("--collection", required=True, help="collection id")
    parser.add_argument(
        "--user", default=None, help="user (password: $DISTILLGUARD_TAXII_PASSWORD)"
    )


def register(parser: argparse.ArgumentParser) -> None:
    """Add the sub-subcommands export, push, pull and hunt."""
    from distillguard.intel.selection import DEFAULT_MAX_OUTSIDE_SHARE, DEFAULT_MIN_ACCOUNTS

    sub = parser.add_subparsers(dest="intel_command", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="a scan's clusters as a STIX 2.1 bundle")
    export.add_argument("--results", type=Path, required=True, help="scan --out directory")
    _data_options(export)
    export.add_argument("--out", type=Path, required=True, help="bundle file to write")
    export.add_argument("--producer", default="distillguard user", help="our identity's name")
    export.add_argument(
        "--min-accounts",
        type=int,
        default=DEFAULT_MIN_ACCOUNTS,
        help=f"k-floor: share nothing seen in fewer accounts (default {DEFAULT_MIN_ACCOUNTS})",
    )
    export.add_argument(
        "--max-outside-share",
        type=float,
        default=DEFAULT_MAX_OUTSIDE_SHARE,
        help="leave out values whose users are more than this share unflagged accounts",
    )
    export.add_argument(
        "--include-review", action="store_true", help="also share clusters judged `review`"
    )
    export.add_argument("--actor", default=None, help="attribution, when an analyst made one")

    push = sub.add_parser("push", help="push a bundle to a TAXII 2.1 collection")
    push.add_argument("--bundle", type=Path, required=True, help="bundle file")
    _taxii_options(push)

    pull = sub.add_parser("pull", help="pull a TAXII 2.1 collection into a bundle file")
    _taxii_options(pull)
    pull.add_argument("--out", type=Path, required=True, help="bundle file to write")
    pull.add_argument("--per-request", type=int, default=100, help="objects per page")
    pull.add_argument("--added-after", default=None, help="only objects added after (RFC 3339)")

    hunt = sub.add_parser("hunt", help="match peers' bundles against our own data")
    hunt.add_argument("--bundle", type=Path, nargs="+", required=True, help="peers' bundles")
    _data_options(hunt)
    hunt.add_argument("--out", type=Path, required=True, help="results directory to write")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    actions = {"export": _export, "push": _push, "pull": _pull, "hunt": _hunt}
    return actions[args.intel_command](args, Console())


def _positive(value: int, flag: str, minimum: int = 1) -> None:
    if value < minimum:
        raise UserError(f"{flag} must be at least {minimum}, got {value}")


def _export(args: argparse.Namespace, console: Console) -> int:
    from distillguard.intel.export import export_bundle
    from distillguard.intel.keys import load_key
    from distillguard.intel.observe import observe, open_inputs
    from distillguard.intel.selection import SharingRules
    from distillguard.results import read_results

    _positive(args.min_accounts, "--min-accounts", 2)
    if not 0.0 <= args.max_outside_share < 1.0:
        raise UserError(f"--max-outside-share must be in [0, 1), got {args.max_outside_share}")
    key = load_key(args.key_file)
    results = read_results(args.results)
    con = open_inputs(
        args.store,
        args.exchanges,
        args.accounts,
        quarantine=args.out.with_suffix(".quarantine.jsonl"),
    )
    outcome = export_bundle(
        results,
        observe(con),
        key,
        producer=args.producer,
        rules=SharingRules(args.min_accounts, args.max_outside_share),
        verdicts=("distillation", "review") if args.include_review else ("distillation",),
        actor=args.actor,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(outcome.bundle, option=orjson.OPT_INDENT_2) + b"\n")
    values = sum(len(c.values) for c in outcome.campaigns)
    console.print(
        f"wrote {args.out}: {len(outcome.campaigns)} campaign(s), {values} indicator(s), "
        f"{len(outcome.bundle['objects'])} STIX objects; valid STIX 2.1 "
        f"({len(outcome.validation.warnings)} validator warning(s))"
    )
    for cluster_id, why in sorted(outcome.skipped.items()):
        console.print(f"[dim]not shared: {cluster_id}: {why}[/]")
    return 0


def _push(args: argparse.Namespace, console: Console) -> int:
    from distillguard.intel.peers import load_bundle
    from distillguard.intel.taxii import TaxiiTarget, push_bundle

    bundle = load_bundle(args.bundle)
    outcome = push_bundle(TaxiiTarget.of(args.url, args.collection, args.user), bundle)
    console.print(
        f"pushed {args.bundle}: status {outcome.status}, {outcome.success} added, "
        f"{outcome.failures} failed, {outcome.pending} pending"
    )
    return 0 if outcome.failures == 0 else 1


def _pull(args: argparse.Namespace, console: Console) -> int:
    from distillguard.intel.taxii import TaxiiTarget, as_bundle, pull_objects

    _positive(args.per_request, "--per-request")
    target = TaxiiTarget.of(args.url, args.collection, args.user)
    objects, pages = pull_objects(
        target, per_request=args.per_request, added_after=args.added_after
    )
    bundle = as_bundle(objects)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n")
    console.print(f"pulled {len(objects)} objects in {pages} page(s) into {args.out}")
    return 0


def _hunt(args: argparse.Namespace, console: Console) -> int:
    from distillguard.intel.hunt import hunt, needs_templates
    from distillguard.intel.hunt_results import write_hunt
    from distillguard.intel.keys import load_key
    from distillguard.intel.observe import observe, open_inputs
    from distillguard.intel.peers import read_peer_bundles

    key = load_key(args.key_file)
    indicators = read_peer_bundles(list(args.bundle), key)
    con = open_inputs(
        args.store, args.exchanges, args.accounts, quarantine=args.out / "quarantine.jsonl"
    )
    obs = observe(con, fingerprint_wrappers=needs_templates(indicators))
    matches = hunt(indicators, obs, key)
    summary = write_hunt(
        args.out,
        obs,
        matches,
        {
            "bundles": [str(p) for p in args.bundle],
            "indicators": len(indicators),
            "key_id": key.key_id,
            "matched_accounts": len(matches),
        },
    )
    verdicts = summary.get("counts", {}).get("verdicts", {})
    console.print(
        f"hunted {len(indicators)} indicator(s) over {len(obs.exchanges):,} accounts: "
        f"{len(matches)} matched; verdicts {verdicts}; results in {args.out}"
    )
    return 0
