"""Build models/minilm-untrained: all-MiniLM-L6-v2 with a seeded, UNTRAINED relevance head.

A stand-in that exercises the whole pipeline on real encoder weights until the trained built-in model
lands; its scores carry no relevance signal beyond chance.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossrank.basemodels import make_cross_encoder, minilm_dir

out = Path(sys.argv[1] if len(sys.argv) > 1 else "models/minilm-untrained")
if (out / "config.json").is_file():
    print(f"{out} exists")
else:
    make_cross_encoder(minilm_dir(), out, seed=0)
    print(f"built {out} (untrained head, seed 0)")
