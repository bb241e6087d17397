"""The simulator's scenarios in the order the benchmark tables list them."""

from __future__ import annotations

from distillguard.sim.scenarios import SCENARIOS

CAMPAIGN_SCENARIOS = tuple(name for name in SCENARIOS if name != "benign-only")
"""Scenarios with campaigns, in the simulator's order: what `run.py scan` runs by default."""
ORDER = (*CAMPAIGN_SCENARIOS, "benign-only")
"""Every scenario, the one without campaigns last."""
