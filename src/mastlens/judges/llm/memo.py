"""The verdict memo key: a trace's content hash and everything else that changes its verdict.

Each ok annotation of the LLM judge is stored with it, so a re-run into another set copies the verdicts
another set already holds for the same key, in one batch inside SQLite (``Store.copy_remembered``): no
trace loaded or rendered, no reply looked up or parsed, no HTTP client. The key holds the request settings
the reply cache key holds, the render and segmenting limits, the prompt hash, the sample count, and a hash
of the source of the code between a stored trace and its verdict (this package, the sample consensus, the
verdict model). Changing any of them, or a key nobody holds any more (its set deleted), is a miss: the
trace is judged through the reply cache as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_CODE_HASH: list[str] = []


def verdict_code_hash() -> str:
    """Hash of the source of every module between a stored trace and its verdict."""
    if not _CODE_HASH:
        from mastlens import __version__
        from mastlens.judges import consensus
        from mastlens.trace import verdict as verdict_model

        digest = hashlib.sha256(__version__.encode())
        files = sorted(Path(__file__).parent.glob("*.py")) + [Path(consensus.__file__), Path(verdict_model.__file__)]
        for path in files:
            try:
                digest.update(path.read_bytes())
            except OSError:  # no source beside the code: the version and the file names stand for it
                digest.update(path.name.encode())
        _CODE_HASH.append(digest.hexdigest())
    return _CODE_HASH[0]


def memo_key_base(settings: dict[str, Any]) -> Any:
    """A digest of ``settings`` and the code hash, to be copied and finished per trace by :func:`memo_key`."""
    ident = json.dumps({**settings, "code": verdict_code_hash()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(ident.encode("utf-8"))


def memo_key(base: Any, trace_hash: str) -> str:
    digest = base.copy()
    digest.update(b"|trace|" + trace_hash.encode("ascii", "replace"))
    return "trace-verdict:" + digest.hexdigest()
