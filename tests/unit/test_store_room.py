"""The store's memory cap and spill folder: options, and a clear stop when room runs out."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from distillguard.cli.main import main
from distillguard.engine.room import StoreRoom, is_out_of_room, out_of_room
from distillguard.engine.store import open_store
from distillguard.errors import UserError
from distillguard.sim.writer import simulate


@pytest.mark.parametrize("value", ["lots", "6", "6 parsecs", "-1GB"])
def test_a_size_that_is_not_a_size_is_refused_with_the_option_named(value: str) -> None:
    with pytest.raises(UserError, match=r"--memory-limit .* is not a size; .* e\.g\. 6GB"):
        StoreRoom(memory_limit=value)
    with pytest.raises(UserError, match=r"--temp-limit"):
        StoreRoom(temp_limit=value)


def test_the_store_spills_where_it_is_told_within_its_caps(tmp_path: Path) -> None:
    con = open_store(None, room=StoreRoom("64MB", tmp_path / "spill", "5GB"))
    settings = dict(
        con.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('memory_limit', 'temp_directory', 'max_temp_directory_size')"
        ).fetchall()
    )
    assert settings["temp_directory"].startswith(str(tmp_path / "spill" / "distillguard-duckdb-"))
    assert settings["memory_limit"].startswith("61.0 MiB")  # 64 MB in DuckDB's own units
    assert settings["max_temp_directory_size"].startswith("4.6 GiB")


def test_running_out_of_room_is_a_clear_error(tmp_path: Path) -> None:
    room = StoreRoom("32MB", tmp_path, "1MB")
    con = open_store(None, room=room)
    with pytest.raises(duckdb.Error) as raised:
        con.con.execute(
            "SELECT * FROM (SELECT i, repeat('x', 200) || i AS s FROM range(2000000) t(i)) "
            "ORDER BY s"
        ).fetchall()
    assert is_out_of_room(raised.value)
    message = str(out_of_room(raised.value, room, None))
    assert "ran out of room" in message and "32MB in memory" in message
    assert f"spills the rest to {tmp_path}" in message and "capped at 1MB" in message
    assert "--temp-dir" in message and "--store" in message


def test_a_scan_without_room_stops_with_the_way_forward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = tmp_path / "sim"
    simulate(sim, seed=3, exchanges=20_000, progress=False)
    status = main(
        [
            "scan", "--exchanges", str(sim / "exchanges.jsonl"), "--accounts",
            str(sim / "accounts.jsonl"), "--out", str(tmp_path / "out"), "--no-progress",
            "--memory-limit", "24MB", "--temp-dir", str(tmp_path / "spill"), "--temp-limit", "1MB",
        ]
    )  # fmt: skip
    assert status == 2
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "the store ran out of room" in err and "Traceback" not in err
    assert "--temp-dir on a disk with more free space" in err
