"""A third-party trainer back end, installed through the ``posttrain.backends`` entry point.

The "distribution" is a throwaway folder on ``sys.path`` holding a module and a
``*.dist-info`` with ``entry_points.txt`` (what ``pip install`` would leave), so
``importlib.metadata`` finds it exactly as it finds an installed plug-in. It runs in a
fresh ``dataforge`` process, through the CLI, like a user's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
"""A toy back end: counts the records and the assistant characters it would train on."""
import json
from pathlib import Path

from backends import Backend, TrainArtifacts
from backends.data import check_stage, read_records


class CountingBackend(Backend):
    """Counts records instead of training (a plug-in example)."""

    name = "counting"
    stages = ("sft",)

    def train(self, config, data, model, output_dir, *, eval_data=None, progress=None):
        records = check_stage(config.stage, read_records([Path(p) for p in ([data] if isinstance(data, (str, Path)) else data)]))
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        summary = {"stage": config.stage, "steps": records.height, "model": model, "max_steps": config.max_steps}
        (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        if progress is not None:
            progress.start(records.height, "counting")
            progress.update(records.height, {"loss": 0.0})
        return TrainArtifacts(out, out, summary_file=out / "summary.json", summary=summary)
'''


def _install(tmp: Path) -> Path:
    site = tmp / "site"
    (site / "counting_backend-0.1.dist-info").mkdir(parents=True)
    (site / "counting_backend.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (site / "counting_backend-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: counting-backend\nVersion: 0.1\n", encoding="utf-8")
    (site / "counting_backend-0.1.dist-info" / "entry_points.txt").write_text(
        "[posttrain.backends]\ncounting = counting_backend:CountingBackend\n", encoding="utf-8")
    return site


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "dataforge.cli.main", "train", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def test_a_plugin_backend_is_listed_and_trains_through_the_cli(td, tmp_path):
    site = _install(tmp_path)
    listing = _cli(site, "backends")
    assert listing.returncode == 0, listing.stderr
    assert "counting" in listing.stdout and "counting_backend" in listing.stdout and "trl" in listing.stdout

    data = td.write(td.sft(), tmp_path / "sft.parquet")
    run = _cli(site, "sft", "--backend", "counting", "--data", str(data), "-o", str(tmp_path / "out"),
               "--set", "max_steps=3")
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary == {"stage": "sft", "steps": 8, "model": "smollm2-135m-instruct", "max_steps": 3}
    assert "steps" in run.stdout and "8" in run.stdout

    # the plug-in runs only its stages; the data checks still apply to it
    other = _cli(site, "dpo", "--backend", "counting", "--data", str(data), "-o", str(tmp_path / "o2"))
    assert other.returncode == 2 and "unknown counting stage 'dpo'" in other.stderr
    pairs = td.write(td.pairs(), tmp_path / "pairs.parquet")
    refused = _cli(site, "sft", "--backend", "counting", "--data", str(pairs), "-o", str(tmp_path / "o3"))
    assert refused.returncode == 2 and "row 1 (id 'pair-0'): is a preference record" in refused.stderr
    assert "Traceback" not in refused.stderr
