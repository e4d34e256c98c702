"""``mastlens review``: a local web app to check and correct a judge's verdicts, building a human set.

The web app itself is :func:`mastlens.review.app.create_app` (imported on demand: it needs Starlette).
"""

from mastlens.review.decisions import HUMAN_PREFIX, Label, StaleTrace, history, human_set_name, save_review
from mastlens.review.queue import STRATEGIES, build_queue, open_queue

__all__ = ["HUMAN_PREFIX", "Label", "STRATEGIES", "StaleTrace", "build_queue", "history", "human_set_name",
           "open_queue", "save_review"]
