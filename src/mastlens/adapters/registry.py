"""The list of known adapters and format detection."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from mastlens.adapters.base import Adapter, read_head, trace_suffix

# Module names under mastlens.adapters, each defining ADAPTER. Order does not matter: priority does.
ADAPTER_MODULES = [
    "native",
    "codex",
    "itbench",
    "text",
    "openai_chat",
    "tau",
    "tau2",
    "mad",
    "otel",
    "inspect_ai",
    "atif",
    "whowhen",
    "claude_code",
    "swe.mini_traj",
    "swe.mini_folder",
    "swe.swe_agent",
]

_cache: list[Adapter] | None = None


def all_adapters() -> list[Adapter]:
    """Every registered adapter, most specific first."""
    global _cache
    if _cache is None:
        found = []
        for name in ADAPTER_MODULES:
            module = import_module(f"mastlens.adapters.{name}")
            found.append(module.ADAPTER)
        _cache = sorted(found, key=lambda a: (a.priority, a.name))
    return _cache


def get_adapter(name: str) -> Adapter:
    for adapter in all_adapters():
        if adapter.name == name:
            return adapter
    names = ", ".join(a.name for a in all_adapters())
    raise KeyError(f"unknown format {name!r}; known formats: auto, {names}")


def format_names() -> list[str]:
    return [a.name for a in all_adapters()]


def detect_file(path: Path, head: bytes | None = None) -> Adapter | None:
    """The first adapter whose ``sniff`` accepts the file, or None."""
    head = read_head(path) if head is None else head
    for adapter in all_adapters():  # folder formats may read single files too (their sniff says)
        if trace_suffix(path) not in adapter.extensions and adapter.name != "text":
            continue
        if _safely(adapter.sniff, path, head):
            return adapter
    return None


def _safely(sniff, *args) -> bool:  # noqa: ANN001
    """A sniffer's answer; one that trips over odd content (a dict where it expects a string...) says no,
    so one strange file can never stop a batch."""
    try:
        return bool(sniff(*args))
    except (OSError, MemoryError):
        raise
    except Exception:
        return False


def detect_dir(path: Path) -> Adapter | None:
    """A folder format that claims this directory, or None."""
    for adapter in all_adapters():
        if adapter.reads_dirs and _safely(adapter.sniff_dir, path):
            return adapter
    return None
