import sys
from pathlib import Path

# The runner glue's converters package lives in the images, not in the installed library.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images" / "common"))
