"""Inspect AI evaluation logs (log format version 2): ``.json`` files and ``.eval`` zip archives.

JSON form: ``{version, status, eval{task, model, created, dataset...}, plan, results, stats, samples[...]}``.
The ``.eval`` form is a zip holding ``header.json`` (the same log without samples; ``_journal/start.json``
while an eval is still running) and one ``samples/<id>_epoch_<epoch>.json`` per sample and epoch.

One trace per sample and epoch, id ``<task>/<sample id>/<epoch>``. Messages (system / user / assistant
with ``tool_calls{id, function, arguments}`` / tool with ``tool_call_id``, ``function``, ``error``) become
steps; content parts of type reasoning become reasoning steps. The first scorer's value is the outcome:
"C" / "I" (correct / incorrect) give success true / false with score 1 / 0, "N" (no answer) false / 0,
"P" (partial) score 0.5; numbers pass through as the score (success then comes from the rule) and every
scorer's numeric value is kept in ``outcome.metrics``.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, head_text, load_json, trace_stem
from mastlens.adapters.steps import StepBuilder, as_text, content_text
from mastlens.trace import Outcome, Source, StepKind, Trace

_JSON_HEAD = re.compile(r'^\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:\s*"')
_EVAL_BLOCK = re.compile(r'"eval"\s*:\s*\{')
_ZIP_MAGIC = b"PK\x03\x04"
_LETTERS: dict[str, tuple[bool | None, float]] = {"C": (True, 1.0), "I": (False, 0.0), "N": (False, 0.0),
                                                  "P": (None, 0.5)}
_SAMPLE_FILE = re.compile(r"^samples/.+\.json$")
_ATTACHMENT = "attachment://"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def score_outcome(scores: Any) -> Outcome:
    """The outcome of a sample from its scores (the first scorer decides success)."""
    if not isinstance(scores, dict) or not scores:
        return Outcome()
    metrics: dict[str, Any] = {}
    success, score = None, None
    for i, (name, entry) in enumerate(scores.items()):
        value = entry.get("value") if isinstance(entry, dict) else entry
        ok, num = None, _number(value)
        if isinstance(value, bool):
            ok, num = value, float(value)
        elif isinstance(value, str) and value.strip().upper() in _LETTERS:
            ok, num = _LETTERS[value.strip().upper()]
        elif isinstance(value, dict):
            metrics.update({f"{name}.{k}": float(v) for k, v in value.items() if _number(v) is not None})
        if num is not None:
            metrics[name] = num
        if i == 0:
            success, score = ok, num
    return Outcome(success=success, score=score, metrics=metrics,
                   success_from="source" if success is not None else None)


def resolve_attachments(value: Any, attachments: dict[str, Any]) -> Any:
    """Inspect condenses large strings into ``attachment://<hash>`` references to ``sample.attachments``."""
    if isinstance(value, str):
        if value.startswith(_ATTACHMENT):
            return attachments.get(value[len(_ATTACHMENT):], value)
        return value
    if isinstance(value, list):
        return [resolve_attachments(v, attachments) for v in value]
    if isinstance(value, dict):
        return {k: resolve_attachments(v, attachments) for k, v in value.items()}
    return value


def _message(builder: StepBuilder, message: dict[str, Any]) -> None:
    role = message.get("role")
    content = message.get("content")
    parts = content if isinstance(content, list) else []
    for part in parts:
        if isinstance(part, dict) and part.get("type") == "reasoning" and part.get("reasoning"):
            builder.add(StepKind.REASONING, part["reasoning"], agent="assistant")
    text = content_text(content)
    meta = {"source": message["source"]} if isinstance(message.get("source"), str) else {}
    if role == "tool":
        error = message.get("error")
        if isinstance(error, dict):
            meta.update(is_error=True, error_type=error.get("type"))
            text = text or as_text(error.get("message"))
        builder.result(text, call_id=message.get("tool_call_id"), tool=message.get("function"), metadata=meta)
    elif role == "assistant":
        if text or not message.get("tool_calls"):
            builder.add(StepKind.ASSISTANT, text, agent="assistant", metadata=meta)
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict):
                builder.call(call.get("function"), call.get("arguments"), call.get("id"), agent="assistant")
    else:
        kind = StepKind.SYSTEM if role == "system" else StepKind.USER
        builder.add(kind, text, agent=None if role == "system" else "user", metadata=meta)


class InspectAdapter(Adapter):
    name = "inspect"
    description = "Inspect AI eval logs: .json logs and .eval zip archives (one trace per sample and epoch)"
    detects = ('a JSON object starting {"version": N, "status": ...} with an "eval" block; '
               "a .eval zip archive (header.json + samples/)")
    outcome = ("each sample's scores: the first scorer's value decides (C, I, N or true/false: success and "
               "score 1/0; P: score 0.5; a number: the score); every scorer's numeric value is a metric")
    priority = 30
    extensions = (".json", ".eval")

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() == ".eval":
            return head.startswith(_ZIP_MAGIC)
        text = head_text(head)
        return bool(_JSON_HEAD.match(text)) and bool(_EVAL_BLOCK.search(text[:20000]))

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        if path.suffix.lower() == ".eval":
            yield from self._read_archive(path, ctx)
            return
        log = load_json(path)
        if not isinstance(log, dict) or not isinstance(log.get("eval"), dict):
            raise AdapterError("not an Inspect log: expected an object with an eval block")
        samples = log.get("samples") or []
        if not samples:
            ctx.notes.append("Inspect log without samples (written with log_samples off?)")
        for i, sample in enumerate(samples):
            trace = self._sample_trace(path, log, sample, ctx, record=i)
            if trace is not None:
                yield trace

    def _read_archive(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise AdapterError(f"not a readable .eval archive: {exc}") from None
        with archive:
            names = archive.namelist()
            header_name = next((n for n in ("header.json", "_journal/start.json") if n in names), None)
            if header_name is None:
                raise AdapterError(".eval archive without header.json or _journal/start.json")
            log = self._member(archive, header_name)
            samples = [n for n in names if _SAMPLE_FILE.match(n)]
            if not samples:
                ctx.notes.append(".eval archive without samples")
            for i, name in enumerate(samples):
                try:
                    sample = self._member(archive, name)
                except AdapterError as exc:
                    ctx.record_issue(exc.reason, record=i)
                    continue
                trace = self._sample_trace(path, log, sample, ctx, record=i)
                if trace is not None:
                    yield trace

    @staticmethod
    def _member(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
        try:
            data = json.loads(archive.read(name).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
            raise AdapterError(f"{name}: unreadable ({type(exc).__name__}: {exc})") from None
        if not isinstance(data, dict):
            raise AdapterError(f"{name}: not a JSON object")
        return data

    def _sample_trace(self, path: Path, log: dict[str, Any], sample: Any, ctx: ReadContext,
                      record: int) -> Trace | None:
        """One sample's trace; a malformed sample is reported and skipped, the others still read."""
        if not isinstance(sample, dict) or "id" not in sample:
            ctx.record_issue("sample without an id, skipped", record=record)
            return None
        spec = log.get("eval") or {}
        task = str(spec.get("task") or trace_stem(path))
        epoch = sample.get("epoch", 1)
        builder = StepBuilder()
        messages = sample.get("messages") or []
        if isinstance(sample.get("attachments"), dict) and sample["attachments"]:
            messages = resolve_attachments(messages, sample["attachments"])
        for message in messages:
            if isinstance(message, dict):
                _message(builder, message)
        if isinstance(sample.get("error"), dict):
            builder.add(StepKind.ERROR, as_text(sample["error"].get("message")), metadata={"source": "sample error"})
        metadata = {
            "eval_id": spec.get("eval_id"), "run_id": spec.get("run_id"), "created": spec.get("created"),
            "log_status": log.get("status"), "sample_id": sample["id"], "epoch": epoch, "uuid": sample.get("uuid"),
            "target": sample.get("target"), "scores": sample.get("scores"), "limit": sample.get("limit"),
            "model_usage": sample.get("model_usage"),
        }
        return Trace(
            id=f"{task}/{sample['id']}/{epoch}", source=Source(format=self.name, path=str(path), record=record),
            system="inspect_ai", model=spec.get("model"), task=task, steps=builder.steps,
            outcome=ctx.success_rule.apply(score_outcome(sample.get("scores"))),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )


ADAPTER = InspectAdapter()
