"""The front end: a kernel's C++ source -> a C syntax tree pycparser reads, every node keeping
its original file and line (preprocess.py: g++ -E and the template rewrites; cxx.py: the few C++
constructs of the sorting kernels; parse.py: pycparser and the spellings it needs undone)."""
