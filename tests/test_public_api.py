"""The public surface is deliberate: ``__all__`` is sorted and complete, and everything in it is documented."""

from __future__ import annotations

import importlib.metadata
import inspect
import types
from typing import Any

import pytest

import plaudit
import plaudit.exceptions
import plaudit.semconv
import plaudit.testing

PUBLIC_MODULES = [plaudit, plaudit.exceptions, plaudit.testing]
NOT_EXPORTS = {"annotations", "TYPE_CHECKING", "Any"}  # imports the facade needs for itself


def own_public_members(cls: type) -> dict[str, Any]:
    """Public methods and properties defined on the class itself (not inherited, not fields)."""
    members = {}
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            members[name] = value
    return members


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_all_is_sorted_unique_and_resolves(module: types.ModuleType) -> None:
    names = list(module.__all__)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None, name


def test_all_is_complete() -> None:
    exported = set(plaudit.__all__)
    for name, value in vars(plaudit).items():
        if name.startswith("_") and name != "__version__":
            continue
        if isinstance(value, types.ModuleType) or name in NOT_EXPORTS:
            continue
        assert name in exported, f"plaudit.{name} is public but missing from __all__"


def test_contract_names_from_the_design_are_exported() -> None:
    for name in ("configure", "trace", "span", "context", "current_ref", "SpanRef", "feedback", "Client"):
        assert name in plaudit.__all__


@pytest.mark.parametrize("name", plaudit.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    if name == "__version__":
        assert isinstance(plaudit.__version__, str)
        return
    obj = getattr(plaudit, name)
    assert (obj.__doc__ or "").strip(), f"plaudit.{name} has no docstring"
    if inspect.isclass(obj):
        for member_name, member in own_public_members(obj).items():
            assert (member.__doc__ or "").strip(), f"plaudit.{name}.{member_name} has no docstring"


@pytest.mark.parametrize("module", [*PUBLIC_MODULES, plaudit.semconv], ids=lambda m: m.__name__)
def test_public_modules_have_docstrings(module: types.ModuleType) -> None:
    assert (module.__doc__ or "").strip()


def test_version_matches_the_installed_distribution() -> None:
    assert plaudit.__version__ == importlib.metadata.version("plaudit")


def test_semconv_is_constants_only() -> None:
    for name, value in vars(plaudit.semconv).items():
        if name.startswith("_") or name == "annotations":
            continue
        assert name.isupper(), name
        assert isinstance(value, (str, tuple)), name
    assert plaudit.semconv.TRUNCATION_MARKER
