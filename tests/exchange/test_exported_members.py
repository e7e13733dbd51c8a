"""The public API is deliberate: everything in __all__ exists and is documented; nothing private leaks."""

from __future__ import annotations

import inspect
import subprocess
import sys

import exchange


def test_all_exports_exist_and_are_public() -> None:
    assert len(exchange.__all__) == len(set(exchange.__all__))
    for name in exchange.__all__:
        assert hasattr(exchange, name), name
        if name.startswith("__"):
            continue
        member = getattr(exchange, name)
        assert not name.startswith("_")
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("exchange."), name
            assert member.__doc__, f"{name} has no docstring"


def test_no_public_module_is_exposed() -> None:
    public_modules = [n for n, m in vars(exchange).items() if inspect.ismodule(m) and not n.startswith("_")]
    assert set(public_modules) <= {"cli", "conformance", "node", "services", "testing", "validator"}, public_modules  # subpackages, once imported


def test_every_exported_error_carries_a_code() -> None:
    for name in exchange.__all__:
        member = getattr(exchange, name)
        if inspect.isclass(member) and issubclass(member, Exception):
            assert issubclass(member, exchange.ExchangeError), f"{name} is outside the one error tree"
            assert isinstance(member.default_code, exchange.Code)


def test_codes_are_unique_stable_strings() -> None:
    values = [code.value for code in exchange.Code]
    assert len(values) == len(set(values))
    assert all(v == v.upper() and " " not in v for v in values)


def test_importing_the_library_is_light() -> None:
    """`import exchange` must not pull in the web stack (services import it, the CLI starts fast)."""
    code = "import sys, exchange; print(','.join(m for m in ('fastapi', 'uvicorn', 'sqlalchemy', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
