"""Arrow's allocator in the tasks that build tables (collect, publish): the C library's malloc.

pyarrow allocates from its bundled mimalloc by default, which keeps what Arrow frees for reuse. A
task builds a few tables and exits, and never reuses that memory. On 100,000 test cases
(benchmarks/results_pipeline.py) the peak was about 405 MB with mimalloc and 365 MB with malloc, at
the same speed.
"""

from __future__ import annotations


def use_malloc() -> None:
    """Every later Arrow allocation of this process comes from malloc (pyarrow's system pool)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
