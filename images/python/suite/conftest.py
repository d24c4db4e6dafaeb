import sys
from pathlib import Path

# The sample SDK sits beside the suite, as an SDK's source tree would.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
