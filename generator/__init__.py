"""The translator: C kernel source -> CUDA text and a typed plan (preprocess, parse, analyze, emit)."""
