"""OpenTelemetry span exports (OTLP/JSON, OpenInference, OTel GenAI): the reader, span parsing and
attribute conventions."""

from mastlens.adapters.otel.reader import ADAPTER

__all__ = ["ADAPTER"]
