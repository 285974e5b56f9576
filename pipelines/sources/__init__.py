"""Source specs for every departmental system, discovered from this package's modules.

A module that defines ``SPEC`` is a source system; nothing else needs to be listed anywhere.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from pipelines.sources.spec import SourceSpec

_NOT_SYSTEMS = {"spec", "readers"}


@functools.cache
def all_specs() -> dict[str, SourceSpec]:
    """Every source system's spec, keyed by system name, in module-name order."""
    specs: dict[str, SourceSpec] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in _NOT_SYSTEMS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, SourceSpec):
            if spec.system != info.name:
                raise ValueError(f"pipelines/sources/{info.name}.py declares system '{spec.system}'")
            specs[spec.system] = spec
    return specs


def get_spec(system: str) -> SourceSpec:
    specs = all_specs()
    if system not in specs:
        raise KeyError(f"unknown system '{system}'; known: {', '.join(specs)}")
    return specs[system]
