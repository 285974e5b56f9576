"""Helpers shared by tests (not fixtures)."""

from __future__ import annotations

from pathlib import Path


def materialize_all(landing: Path, root: Path, quality: Path, instance=None, raise_on_error: bool = True):
    """Every asset and check, against real resources in temp folders (GX project included)."""
    import dagster as dg

    from assets.definitions import ASSETS, CHECKS
    from assets.resources import LandingResource, WarehouseResource

    return dg.materialize(
        [*ASSETS, *CHECKS],
        instance=instance,
        resources={"warehouse": WarehouseResource(root=str(root)), "landing": LandingResource(root=str(landing))},
        run_config={"ops": {"curated": {"config": {"gx_root": str(quality / "gx"), "reports": str(quality / "reports")}}}},
        raise_on_error=raise_on_error,
    )
