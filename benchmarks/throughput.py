"""Throughput and memory of the batch scan end to end, beside a floor that only reads the input.

For each size: simulate ``reported-2026`` traffic once (cached under ``--out``), convert it to
Parquet the way a provider would export its logs, then time ``distillguard scan`` on that
Parquet with the peak memory of its process tree.  The floor is DuckDB reading the same
Parquet and hashing each request's messages text once (the prompt and its conversation): no
scan can be cheaper than touching every prompt, so ``scan / floor`` says how much work the
scan does beyond reading.

    .venv/bin/python benchmarks/run.py --out bench-out throughput --sizes 1000000 4000000

By default the simulator draws prompts from its bundled sample, whose prompts repeat a lot
(8% of the 1M input's (prompt, system prompt) pairs are distinct), and the feature stage's
text work is done once per distinct pair.  ``--datasets ../shared/datasets`` draws them from
the full shared collections instead (21% distinct in the 1M input), closer to real logs; its
inputs, scans and results file carry a ``-datasets`` suffix.

The Parquet layout (see ``docs/benchmarks.md``): the contract's column names, ``timestamp``
as a Parquet timestamp (UTC, microseconds), integers as int64, and ``messages``, ``tools``
and ``params`` as JSON text (DuckDB's JSON logical type), since the contract's ``content``
is a string or a list of parts, which no single Parquet type holds.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memory import run_measured

PYTHON = sys.executable
GIB = 1 << 30
SCENARIO = "reported-2026"

EXCHANGE_COLUMNS = {
    "exchange_id": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "account_id": "VARCHAR",
    "api_key_id": "VARCHAR",
    "organization_id": "VARCHAR",
    "client_ip": "VARCHAR",
    "user_agent": "VARCHAR",
    "model": "VARCHAR",
    "system_prompt": "VARCHAR",
    "messages": "JSON",
    "tools": "JSON",
    "params": "JSON",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "reasoning_tokens": "BIGINT",
    "response_text": "VARCHAR",
    "finish_reason": "VARCHAR",
    "conversation_id": "VARCHAR",
    "status": "BIGINT",
}
"""Types of the exchange columns in the benchmark's Parquet (names are the contract's)."""

FLOOR_SQL = "SELECT count(*), sum(hash(messages)) FROM read_parquet('{path}')"
"""The floor: read the Parquet and hash every request's messages text once."""


def _duckdb_copy(sql: str) -> None:
    """Run one DuckDB statement in a child process (two threads, capped memory)."""
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect()\n"
        "con.execute(\"SET threads = 2; SET memory_limit = '4GB'\")\n"
        "con.execute('SET enable_progress_bar = false')\n"
        "con.execute(sys.argv[1])\n"
    )
    subprocess.run([PYTHON, "-c", script, sql], check=True)


def prepare_inputs(out: Path, size: int, seed: int, datasets: Path | None = None) -> dict[str, Any]:
    """Simulated exchanges and accounts as Parquet, made once and reused by later runs."""
    folder = out / f"throughput-input-{size}-seed{seed}{_suffix(datasets)}"
    manifest = folder / "inputs.json"
    if manifest.is_file():
        cached: dict[str, Any] = json.loads(manifest.read_text())
        return cached
    shutil.rmtree(folder, ignore_errors=True)
    sim = folder / "sim"
    command = [
        PYTHON, "-m", "distillguard", "simulate", "--out", str(sim), "--scenario", SCENARIO,
        "--exchanges", str(size), "--seed", str(seed), "--workers", "2", "--no-progress",
        *(["--datasets", str(datasets)] if datasets is not None else []),
    ]  # fmt: skip
    simulated = run_measured(command)
    if simulated.returncode:
        raise SystemExit(f"simulate failed with status {simulated.returncode}")
    meta = json.loads((sim / "simulation.json").read_text())
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in EXCHANGE_COLUMNS.items()) + "}"
    _duckdb_copy(
        f"COPY (SELECT * FROM read_json('{sim / 'exchanges.jsonl'}', "
        f"format = 'newline_delimited', columns = {columns}, "
        "maximum_object_size = 67108864)) "
        f"TO '{folder / 'exchanges.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
    )
    _duckdb_copy(
        f"COPY (SELECT * FROM read_json('{sim / 'accounts.jsonl'}')) "
        f"TO '{folder / 'accounts.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
    )
    shutil.copy(sim / "labels.jsonl", folder / "labels.jsonl")
    shutil.rmtree(sim)
    inputs = {
        "requested": size,
        "seed": seed,
        "scenario": SCENARIO,
        "prompts": str(datasets) if datasets is not None else "bundled sample",
        "exchanges": meta["exchanges"],
        "exchanges_parquet": str(folder / "exchanges.parquet"),
        "accounts_parquet": str(folder / "accounts.parquet"),
        "parquet_gib": round((folder / "exchanges.parquet").stat().st_size / GIB, 2),
        "simulate_seconds": round(simulated.seconds, 1),
    }
    manifest.write_text(json.dumps(inputs, indent=2))
    return inputs


def _children_cpu_seconds() -> float:
    """CPU time (user + system) of every child process waited for so far, grandchildren
    included once their parent waited for them: the work done, whatever else ran."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_floor(parquet: str) -> dict[str, Any]:
    """Wall time, CPU time and peak memory of the floor query in a fresh process."""
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect()\n"
        "con.execute('SET threads = 2; SET enable_progress_bar = false')\n"
        "print(con.execute(sys.argv[1]).fetchall())\n"
    )
    cpu = _children_cpu_seconds()
    measured = run_measured([PYTHON, "-c", script, FLOOR_SQL.format(path=parquet)])
    return {
        "seconds": round(measured.seconds, 2),
        "cpu_seconds": round(_children_cpu_seconds() - cpu, 2),
        "peak_gib": round(measured.peak_bytes / GIB, 2),
    }


def measure_scan(
    inputs: dict[str, Any], results: Path, options: Sequence[str] = ()
) -> dict[str, Any]:
    """Wall time, peak tree memory and stage times of one `distillguard scan` (``options``:
    extra scan arguments, recorded in the command)."""
    shutil.rmtree(results, ignore_errors=True)
    command = [
        PYTHON, "-m", "distillguard", "scan",
        "--exchanges", inputs["exchanges_parquet"], "--accounts", inputs["accounts_parquet"],
        "--out", str(results), "--no-progress", *options,
    ]  # fmt: skip
    cpu = _children_cpu_seconds()
    measured = run_measured(command)
    if measured.returncode:
        raise SystemExit(f"scan failed with status {measured.returncode}")
    cpu = _children_cpu_seconds() - cpu
    summary = json.loads((results / "summary.json").read_text())
    return {
        "seconds": round(measured.seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_gib": round(measured.peak_bytes / GIB, 2),
        "stages": summary["wall_time_s"],
        "counts": summary["counts"],
        "command": " ".join(command[1:]),
    }


def _suffix(datasets: Path | None) -> str:
    return "" if datasets is None else "-datasets"


def bench_throughput(
    out: Path,
    sizes: list[int],
    seed: int,
    *,
    prepare_only: bool = False,
    datasets: Path | None = None,
    store_dir: Path | None = None,
    memory_limit: str | None = None,
) -> list[dict[str, Any]]:
    """Scan and floor at each size; prints one Markdown row per size and returns the rows.

    ``store_dir``: scan into a fresh store file there (``--store``), as a daily deployment
    does, instead of the in-memory default; ``memory_limit``: the scan's ``--memory-limit``.
    """
    if prepare_only:
        return [prepare_inputs(out, size, seed, datasets) for size in sizes]
    rows = []
    print(
        "| exchanges | scan wall | µs/exchange | scan CPU | peak memory | floor wall (CPU) "
        "| scan/floor | stages |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for size in sizes:
        inputs = prepare_inputs(out, size, seed, datasets)
        floor = measure_floor(inputs["exchanges_parquet"])
        options: list[str] = []
        if store_dir is not None:
            store = store_dir / f"store-{size}{_suffix(datasets)}.duckdb"
            store_dir.mkdir(parents=True, exist_ok=True)
            for stale in (store, store.with_name(store.name + ".wal")):
                stale.unlink(missing_ok=True)
            options += ["--store", str(store)]
        if memory_limit is not None:
            options += ["--memory-limit", memory_limit]
        scan = measure_scan(inputs, out / f"throughput-scan-{size}{_suffix(datasets)}", options)
        # exchanges_read counts account records too; the cost is per exchange.
        exchanges = int(scan["counts"]["exchanges_loaded"]) + int(scan["counts"]["quarantined"])
        row = {
            "inputs": inputs,
            "exchanges": exchanges,
            "scan": scan,
            "floor": floor,
            "us_per_exchange": round(scan["seconds"] / exchanges * 1e6, 1),
            "floor_us_per_exchange": round(floor["seconds"] / exchanges * 1e6, 2),
            "ratio": round(scan["seconds"] / max(floor["seconds"], 1e-9), 1),
        }
        rows.append(row)
        stages = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in scan["stages"].items())
        print(
            f"| {exchanges:,} | {scan['seconds']} s | {row['us_per_exchange']} "
            f"| {scan['cpu_seconds']} s | {scan['peak_gib']} GiB "
            f"| {floor['seconds']} s ({floor['cpu_seconds']} s) | {row['ratio']}× | {stages} |",
            flush=True,
        )
    return rows
