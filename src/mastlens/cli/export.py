"""`mastlens export`: failure vectors as a table (csv, parquet, jsonl), a partitioned Parquet dataset (a
folder: ``--to parquet DIR``, read back by ``stats --from`` / ``report --from``), or MAST labels as OTel events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from mastlens.cli.common import DbOption, JsonOption, console, fail, note, open_store, print_json, resolve_set

EXPORT_FORMATS = ("csv", "parquet", "jsonl", "otel")


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        path: Path = typer.Argument(..., help="The file to write (parquet: a folder when the name does not end "
                                              "in .parquet: a dataset partitioned by set, model and ingest day)."),
        to: str = typer.Option(..., "--to", help="csv, parquet or jsonl (failure vectors), or otel (OTLP/JSON "
                                                   "logs of gen_ai.evaluation.result events)."),
        set_name: Optional[str] = typer.Option(None, "--set", help="Annotation set (default: the most recent)."),
        success: Optional[str] = typer.Option(None, "--success", help="Success rule for the table, e.g. 'score>0'."),
        include_not_assessed: bool = typer.Option(
            False, "--include-not-assessed",
            help="otel: also emit an event (label not_assessed, no score) for each mode the judge did not assess; "
                 "present and absent verdicts are always exported."),
        history: bool = typer.Option(False, "--history", help="A human:NAME set's every review decision (csv, "
                                                               "parquet, jsonl) instead of its current labels."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Export an annotation set: failure vectors as a table, or MAST labels as OpenTelemetry events."""
        fmt = to.lower()
        if fmt not in EXPORT_FORMATS:
            fail(f"unknown export format {to!r}; choose one of: {', '.join(EXPORT_FORMATS)}")
        if history and fmt == "otel":
            fail("--history writes a table (csv, parquet or jsonl), not otel events")
        dataset = fmt == "parquet" and not history and path.suffix.lower() != ".parquet"
        days: list[str] = []
        with open_store(db, must_exist=True) as store:
            name = resolve_set(store, set_name, quiet=as_json)
            if fmt == "otel":
                from mastlens import __version__
                from mastlens.analysis.otel_export import evaluation_logs

                document = evaluation_logs(store, name, include_not_assessed=include_not_assessed,
                                           version=__version__)
                rows = sum(len(s["logRecords"]) for r in document["resourceLogs"] for s in r["scopeLogs"])
                payload = json.dumps(document, ensure_ascii=False)
            elif history:
                from mastlens.review.decisions import history_frame

                df = history_frame(store, name)
                rows = len(df)
            else:
                from mastlens.analysis import failure_vectors
                from mastlens.trace import SuccessRuleError

                try:
                    df = failure_vectors(store, name, success_rule=success)
                except SuccessRuleError as exc:
                    fail(str(exc))
                rows = len(df)
                if dataset:
                    from mastlens.analysis.export import ingest_days

                    days = ingest_days(store, list(df["id"]))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "otel":
                path.write_text(payload + "\n", encoding="utf-8")
            elif dataset:
                from mastlens.analysis.export import write_vector_dataset

                if path.exists() and not path.is_dir():
                    fail(f"{path} is a file: a Parquet dataset is a folder (name a file *.parquet for one file)")
                try:
                    write_vector_dataset(df, path, days)
                except ValueError as exc:
                    fail(str(exc))
            else:
                from mastlens.analysis.export import write_vectors

                write_vectors(df, fmt, path)
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror or exc}")
        if rows == 0:
            note(f"[yellow]note:[/] set {name!r} has nothing to export; {path} holds an empty "
                 f"{'document' if fmt == 'otel' else 'table'}")
        what = "evaluation events" if fmt == "otel" else "decisions" if history else "traces"
        if dataset:
            fmt = "parquet dataset"
        if as_json:
            print_json({"path": str(path), "format": fmt, "set": name, "rows": rows})
        else:
            console.print(f"wrote {rows} {what} of set [bold]{name}[/] to [bold]{path}[/] ({fmt})", soft_wrap=True)
