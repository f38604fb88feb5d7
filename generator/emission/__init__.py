"""Emission: each plan step's launches printed as CUDA (cuda_generator.py: CGenerator for the
C statements; steps.py: a step's launches by its form; counting.py: count and fill bodies;
compaction.py, private_rows.py: those forms' launches; folds.py: constant-work steps folded into
a neighbour's launch; render.py and templates/: the Jinja2 frame and macros)."""
