"""Source systems, discovered: every folder holding a ``SPEC`` is one, nothing is listed anywhere.

A system is one folder — ``pipelines/sources/<system>/`` here, or ``<dir>/<system>/`` under a
directory named in ``ENTERONCE_SOURCE_DIRS`` (``os.pathsep``-separated), for a district's own
systems kept outside this package:

- ``__init__.py`` defines ``SPEC = SourceSpec(...)``: format, file glob, column mapping, required
  fields, cadence, which persons a row describes, which curated tables it feeds;
- ``demo.py`` (optional) defines ``export(ctx)``, the system's demo export for `demo generate`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

from pipelines.sources.spec import SourceSpec

ENV_SOURCE_DIRS = "ENTERONCE_SOURCE_DIRS"
_HERE = Path(__file__).parent


def _folders() -> list[tuple[str, Path]]:
    """(module name, folder) of every candidate system folder, built-in first."""
    found = [(f"{__name__}.{p.name}", p) for p in sorted(_HERE.iterdir()) if (p / "__init__.py").is_file() and not p.name.startswith("_")]
    for extra in filter(None, os.environ.get(ENV_SOURCE_DIRS, "").split(os.pathsep)):
        for p in sorted(Path(extra).iterdir()):
            if (p / "__init__.py").is_file() and not p.name.startswith(("_", ".")):
                found.append((f"enteronce_sources.{p.name}", p))
    return found


def _load(module_name: str, folder: Path, part: str | None = None) -> ModuleType | None:
    """Import the folder's package (or its ``part`` submodule); None when that part is absent."""
    if module_name.startswith(__name__ + "."):
        name = module_name if part is None else f"{module_name}.{part}"
        if part is not None and not (folder / f"{part}.py").is_file():
            return None
        return importlib.import_module(name)
    if part is None:
        spec = importlib.util.spec_from_file_location(module_name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    else:
        if not (folder / f"{part}.py").is_file():
            return None
        _load(module_name, folder)
        spec = importlib.util.spec_from_file_location(f"{module_name}.{part}", folder / f"{part}.py")
    assert spec is not None and spec.loader is not None
    key = spec.name
    if key not in sys.modules:
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@functools.cache
def all_specs() -> dict[str, SourceSpec]:
    """Every source system's spec, keyed by system name, in folder-name order (built-in first)."""
    specs: dict[str, SourceSpec] = {}
    for module_name, folder in _folders():
        spec = getattr(_load(module_name, folder), "SPEC", None)
        if not isinstance(spec, SourceSpec):
            continue
        if spec.system != folder.name:
            raise ValueError(f"{folder}/__init__.py declares system '{spec.system}'; the folder must be named after it")
        if spec.system in specs:
            raise ValueError(f"system '{spec.system}' is defined twice ({folder})")
        specs[spec.system] = spec
    return specs


def demo_exports() -> dict[str, Callable]:
    """Each system's ``demo.export(ctx)``, for the systems that have one."""
    exports = {}
    for module_name, folder in _folders():
        if folder.name in all_specs():
            module = _load(module_name, folder, "demo")
            if module is not None:
                exports[folder.name] = module.export
    return exports


def feeders(table: str) -> tuple[str, ...]:
    """The systems whose spec says they feed the curated ``table`` (their batches gate it)."""
    return tuple(system for system, spec in all_specs().items() if table in spec.feeds)


def get_spec(system: str) -> SourceSpec:
    specs = all_specs()
    if system not in specs:
        raise KeyError(f"unknown system '{system}'; known: {', '.join(specs)}")
    return specs[system]
