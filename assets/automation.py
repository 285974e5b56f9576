"""Declarative automation: a delivery in landing reaches gold with nobody pressing a button.

Landing sensors start bronze runs; from silver on every asset is ``eager`` (it runs when an
upstream asset was updated), and a curated table additionally waits until every blocking check
of its parents passed. Freshness is a warning, never a condition: a late weekend delivery does
not hold back tables built from other systems.
"""

from __future__ import annotations

import dagster as dg

EAGER = dg.AutomationCondition.eager()
AFTER_GATES = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="evaluates every asset's automation condition (silver → masters → gold)",
)
