"""collect and publish switch Arrow to malloc before they build tables (campaign/arrow_memory.py)."""

import subprocess
import sys


def test_arrow_allocates_from_malloc_once_a_task_asks():
    script = (
        "import pyarrow as pa; from sdk_campaigns.campaign import arrow_memory; "
        "arrow_memory.use_malloc(); "
        "print(pa.default_memory_pool().backend_name, pa.array(['x']).to_pylist())"
    )
    # A process of its own: the pool is process-wide, and this one's tests keep pyarrow's default.
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["system", "['x']"]
