"""Checks: rule checks registered by name in ``base.REGISTRY``; ``run_checks`` runs them all."""

from __future__ import annotations

import importlib
import pkgutil

from imr_llm.checks.base import REGISTRY, CheckContext, CheckSpec, Sections, register
from imr_llm.schemas import Finding

__all__ = [
    "REGISTRY",
    "CheckContext",
    "CheckSpec",
    "Sections",
    "register",
    "run_checks",
    "load_checks",
]

_LOADED = False


def load_checks() -> dict[str, CheckSpec]:
    """Import every module in this package so each registers its checks."""
    global _LOADED
    if not _LOADED:
        for mod in pkgutil.iter_modules(__path__):
            if mod.name != "base":
                importlib.import_module(f"{__name__}.{mod.name}")
        _LOADED = True
    return REGISTRY


def run_checks(ctx: CheckContext, only: set[str] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for name, spec in load_checks().items():
        if only is None or name in only:
            findings.extend(spec.fn(ctx))
    return findings
