"""The live guard: the rules detectors fed step by step from runs in progress.

:mod:`.live` (one run's live verdict), :mod:`.follow` and :mod:`.sources` (growing files, the adapters'
builders fed line by line), :mod:`.watcher` (``mastlens watch``), :mod:`.otlp` (the OTLP/HTTP receiver),
:mod:`.state` (restart-safe offsets), :mod:`.actions` (--on-alert, --kill-pid), :mod:`.collect` (--store),
:mod:`.hook`, :mod:`.hook_quick` and :mod:`.hook_worker` (the Claude Code hook: ``mastlens-guard-hook``,
``mastlens guard claude-code``; its quick path; the warm worker that makes its decisions). Above ``judges/``; only ``cli/`` prints.
"""
