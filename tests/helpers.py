"""Helpers shared by tests (not fixtures)."""

from __future__ import annotations

from pathlib import Path


def resources_for(landing: Path, root: Path, quality: Path, nodes: Path | None = None) -> dict:
    """Real resources pointed at temp folders (no webhook; no nodes file unless ``nodes``)."""
    from assets.resources import LandingResource, NotifierResource, QualityResource, SyncResource, WarehouseResource

    return {
        "warehouse": WarehouseResource(root=str(root)),
        "landing": LandingResource(root=str(landing)),
        "quality": QualityResource(reports=str(quality / "reports")),
        "notifier": NotifierResource(),
        "sync": SyncResource(nodes_file=str(nodes or root.parent / "nodes.yaml")),
    }


def materialize_all(landing: Path, root: Path, quality: Path, instance=None, raise_on_error: bool = True, selection=None, nodes: Path | None = None,
                    report: bool = True):
    """Every asset and check (or ``selection``), in process, against real resources in temp folders;
    then the run's quality report, as `enteronce demo run` writes it (``report=False``: leave it to
    the ``quality_reports`` sensor)."""
    import dagster as dg

    from assets.definitions import ASSETS

    from assets.report import report_run
    from warehouse.storage import Warehouse

    instance = instance or dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        ASSETS,
        instance=instance,
        selection=selection,
        resources=resources_for(landing, root, quality, nodes),
        raise_on_error=raise_on_error,
    )
    # as `enteronce demo run` does after an in-process run (the daemon's sensor, after its runs)
    if report:
        report_run(instance, result.run_id, Warehouse(str(root)), quality / "reports")
    return result
