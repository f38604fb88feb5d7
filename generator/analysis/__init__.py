"""The analysis core: facts about a loop and its body (loops.py), proving writes distinct per
iteration (rows.py), counters (counters.py), the general rule's parallel and count-scan-fill
forms (iterations.py), and the typed values the stages hand on (context.py). Nothing here
prints CUDA: the emitter (emission/) reads what the analysis decided."""
