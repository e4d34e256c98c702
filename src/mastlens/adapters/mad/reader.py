"""MAST-Data (MAD): the MAST authors' multi-agent traces with failure-mode labels.

Two shapes, both JSON lists read record by record:

* the full dataset, ``{mas_name, llm_name, benchmark_name, trace_id, trace: {key, index, trajectory},
  mast_annotation: {"1.1": 0|1, ...}}``; id ``<mas_name>/<llm_name>/<benchmark_name>/<trace_id>``
  (trace_id alone repeats); its labels become annotation set ``mad``;
* the human-labelled file, ``{round, mas_name, benchmark_name, trace_id, trace, annotations}``; id
  ``<round>/<mas_name>/<benchmark_name>/<trace_id>``; each annotator becomes a set
  ``mad-annotator_N``, plus ``mad-majority``.

Labels travel beside the traces (:class:`~mastlens.adapters.base.TraceLabels`), never inside them;
ingest stores them after the traces. Raw logs are cut into steps at speaker markers (:mod:`mastlens.adapters.mad.steps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mastlens.adapters.base import Adapter, ReadContext, TraceLabels, head_text
from mastlens.adapters.jsonstream import first_record_keys, iter_records, read_each
from mastlens.adapters.mad.labels import LabelMapping, SharedBlocks, block_digest, dataset_flags, human_flags
from mastlens.adapters.mad.steps import parse_log
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace import Outcome, Source, Trace

DATASET_SET = "mad"


def _text(value: Any, what: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"record has no {what}")
    return str(value).strip()


class MadAdapter(Adapter):
    name = "mad"
    description = "MAST-Data (MAD): multi-agent traces with MAST labels (full dataset or human-labelled file)"
    detects = "a JSON list of records whose keys include mas_name and trace"
    outcome = "the record's trace other_data.correct (true/false), when the log carries it, as the source's success flag; no score"
    priority = 30

    def sniff(self, path: Path, head: bytes) -> bool:
        keys = first_record_keys(head_text(head)) or []
        return "mas_name" in keys and ("trace" in keys or "trace_id" in keys)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        taxonomy = load_taxonomy()
        mapping = LabelMapping()
        blocks = SharedBlocks()
        first_label = len(ctx.labels)

        def build(line: int | None, index: int, record: Any) -> Trace:
            trace, labels = self._trace(path, ctx, record, line, index, taxonomy, mapping)
            if isinstance(record, dict) and "annotations" in record:
                digest = block_digest(record["annotations"])
                blocks.add(digest, trace.id)
                for label in labels:
                    label.metadata["label_block"] = digest
            ctx.labels.extend(labels)
            return trace

        yield from read_each(ctx, iter_records(path), build, "a MAST-Data record")
        for label in ctx.labels[first_label:]:  # stored after the file is read, so the marks still land
            others = blocks.others(label.metadata.get("label_block"), label.trace_id)
            if others:
                label.metadata["label_block_shared_with"] = others
        ctx.notes.extend(mapping.notes())
        ctx.notes.extend(blocks.notes())

    def _trace(self, path: Path, ctx: ReadContext, record: Any, line: int | None, index: int,
               taxonomy: Taxonomy, mapping: LabelMapping) -> tuple[Trace, list[TraceLabels]]:
        if not isinstance(record, dict):
            raise ValueError("record is not an object")
        mas = _text(record.get("mas_name"), "mas_name")
        bench = _text(record.get("benchmark_name"), "benchmark_name")
        trace_no = _text(record.get("trace_id"), "trace_id")
        human = "annotations" in record or "round" in record
        meta: dict[str, Any] = {"trace_id": record.get("trace_id")}
        if human:
            round_name = _text(record.get("round"), "round")
            trace_id, model, raw = f"{round_name}/{mas}/{bench}/{trace_no}", None, record.get("trace")
            meta["round"] = round_name
            per_set = human_flags(record.get("annotations"), taxonomy, mapping)
        else:
            model = _text(record.get("llm_name"), "llm_name")
            trace_id = f"{mas}/{model}/{bench}/{trace_no}"
            body = record.get("trace")
            raw = body.get("trajectory") if isinstance(body, dict) else body
            if isinstance(body, dict) and "index" in body:
                meta["index"] = body["index"]
            per_set = {DATASET_SET: dataset_flags(record["mast_annotation"], taxonomy, mapping)} \
                if "mast_annotation" in record else {}
        if raw is None:
            raise ValueError("record has no trace")
        parsed = parse_log(raw)
        meta.update(parsed.metadata)
        correct = meta.get("correct")
        outcome = Outcome(success=correct) if isinstance(correct, bool) else Outcome()
        trace = Trace(
            id=trace_id, source=Source(format=self.name, path=str(path), line=line, record=index),
            system=mas, model=model, task=bench, steps=parsed.steps,
            outcome=ctx.success_rule.apply(outcome), metadata=meta,
        )
        labels = [TraceLabels(trace_id, name, flags, {"record": index}) for name, flags in per_set.items()]
        return trace, labels


ADAPTER = MadAdapter()
