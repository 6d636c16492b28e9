"""The table that ends CI's log (tools/ci_times.py): its arithmetic and its command line."""

import json

import pytest

from tools import ci_times


def test_table_divides_the_growing_stages_and_extrapolates():
    rows = [
        {"stage": "install", "seconds": 100.0, "fixed": True, "rc": 0},
        {"stage": "chapters", "seconds": 140.0, "fixed": False, "rc": 0},
        {"stage": "tests", "seconds": 70.0, "fixed": False, "rc": 1},
    ]
    out = ci_times.table(rows, n_chapters=14, target=58)
    # growing 210 s over 14 chapters = 15 s each; 100 + 58 x 15 = 970 s
    assert "per-chapter cost: 15.0 s" in out
    assert "100 + 58 x 15.0 = 970 s" in out and "within" in out
    assert "(exit 1)" in out
    over = ci_times.table([*rows, {"stage": "slow", "seconds": 14 * 60.0, "fixed": False, "rc": 0}], 14)
    assert "OVER" in over
    with pytest.raises(ValueError):
        ci_times.table(rows, n_chapters=0)


def test_run_records_the_stage_and_passes_its_options_and_the_exit_status(tmp_path, monkeypatch):
    monkeypatch.setattr(ci_times, "TIMES", tmp_path / "times.jsonl")
    assert ci_times.main(["run", "one", "--fixed", "--", "true"]) == 0
    # an option after -- belongs to the command, not to ci_times
    assert ci_times.main(["run", "two", "--", "sh", "-c", "exit 3", "--fixed"]) == 3
    rows = [json.loads(ln) for ln in (tmp_path / "times.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["fixed"], r["rc"]) for r in rows] == [("one", True, 0), ("two", False, 3)]
    with pytest.raises(SystemExit):
        ci_times.main(["run", "three"])
