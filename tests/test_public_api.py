"""The public surface: ``__all__`` is complete, sorted and points at real objects."""

from __future__ import annotations

import types

import sgibridge


def test_all_is_a_sorted_tuple_of_public_names() -> None:
    assert isinstance(sgibridge.__all__, tuple)
    assert list(sgibridge.__all__) == sorted(sgibridge.__all__)
    public = {
        name
        for name, value in vars(sgibridge).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(sgibridge.__all__)


def test_public_classes_live_at_the_package_root() -> None:
    for name in sgibridge.__all__:
        value = getattr(sgibridge, name)
        if isinstance(value, type):
            assert value.__module__ == "sgibridge", name


def test_CONFORMANCE_0_exception_hierarchy() -> None:
    """CONFORMANCE §0: the error hierarchy and its builtin bases."""
    assert issubclass(sgibridge.ProtocolError, sgibridge.SGIBridgeError)
    assert issubclass(sgibridge.WSGIProtocolError, sgibridge.ProtocolError)
    assert issubclass(sgibridge.WSGIProtocolError, RuntimeError)
    assert issubclass(sgibridge.ASGIProtocolError, sgibridge.ProtocolError)
    assert issubclass(sgibridge.ASGIProtocolError, RuntimeError)
    assert issubclass(sgibridge.ClientDisconnected, sgibridge.SGIBridgeError)
    assert issubclass(sgibridge.ClientDisconnected, OSError)
    assert issubclass(sgibridge.BodyTooLarge, sgibridge.SGIBridgeError)


def test_aliases_keep_migration_to_one_import() -> None:
    assert sgibridge.WSGIMiddleware is sgibridge.WSGIToASGI
