"""Test-wide environment: offline hub, passive OpenMP threads (set before torch loads)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Without this, torch threads spin-wait whenever another process holds a core and a
# forward pass gets up to 8x slower on our 2-core CI machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
