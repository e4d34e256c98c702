"""SWE-bench agent runs: mini-swe-agent trajectories and output folders, SWE-agent trajectories, and the
SWE-bench evaluation reports that give their outcome. One module per format (each with its ``ADAPTER``),
the shared conventions in :mod:`mastlens.adapters.swe.common`."""
