"""MAST-Data (MAD) records: the reader, its step splitting and its label mapping."""

from mastlens.adapters.mad.reader import ADAPTER

__all__ = ["ADAPTER"]
