"""An annotation set's judge configuration: recorded when a run starts, checked when a run extends a set."""

from __future__ import annotations

from mastlens.judges.base import Judge
from mastlens.store import Store


class SetConflict(ValueError):
    """An annotation set written by another judge configuration than the one asked to extend it."""


def check_set_matches(store: Store, judge: Judge, set_name: str) -> None:
    """Raise :class:`SetConflict` when ``set_name`` exists and was written by a different judge, model,
    prompt (or rules configuration) or taxonomy version: resuming it would mix two judges in one set."""
    existing = store.get_set(set_name)
    if existing is None:
        return
    info = judge.info()
    differences = [
        f"{what} {old!r} -> {new!r}"
        for what, old, new in (
            ("judge", existing.judge, info.judge), ("model", existing.model, info.model),
            ("prompt hash", existing.prompt_hash, info.prompt_hash),
            ("taxonomy", existing.taxonomy_version, info.taxonomy_version),
        )
        if old != new
    ]
    if differences:
        raise SetConflict(
            f"annotation set {set_name!r} was written by another judge configuration ({'; '.join(differences)}); "
            "annotate into a new set with --set NAME, or pass --replace to re-annotate this one from scratch"
        )


def _record_set(store: Store, judge: Judge, set_name: str, samples: int) -> None:
    info = judge.info()
    params = dict(info.params)
    params["samples"] = samples
    store.ensure_set(
        set_name, judge=info.judge, model=info.model, endpoint_host=info.endpoint_host,
        prompt_hash=info.prompt_hash, taxonomy_version=info.taxonomy_version, params=params,
    )
