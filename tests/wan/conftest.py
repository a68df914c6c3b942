from __future__ import annotations

import sys
from pathlib import Path

# The haven process and engine helpers live beside the server tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
