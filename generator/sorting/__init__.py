"""The library sort step: the sort rule reads `std::iota` + `std::sort` from a kernel's AST
(rule.py); where it cannot, the spec's `sort` override names the step (override.py)."""
