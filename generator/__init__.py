"""The translator: a C kernel's source -> CUDA text and a typed plan.

frontend/ (C++ -> C syntax tree) -> planner.py (rewrites/, then rules/ on each loop, over the
analysis core in analysis/) -> emission/ (CUDA through Jinja2); translate.py drives one kernel
family through them, explain.py shows a contributor what each pass did. sorting/ reads a kernel
that sorts as one library sort step."""
