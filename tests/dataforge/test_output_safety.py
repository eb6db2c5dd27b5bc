"""No command deletes or replaces what it did not create (issue 7's reproducers and the
rules of ``dataforge.outputs``). Every refusal is checked to leave every file as it was,
byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.fileio import AtomicFile, write_text_atomic
from dataforge.outputs import MARKER, OutputLock, owns_file, owns_folder, sweep_temporaries
from dataforge.recipe import RecipeError, load_recipe
from dataforge.rejects import read_rejected, rejected_folder

REPO = Path(__file__).resolve().parents[2]
MESSY = REPO / "recipes" / "data" / "messy.jsonl"
_load_commands()


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256), markers and locks excluded."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER and not p.name.endswith(".lock")
    }


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    d.mkdir()
    (d / "messy.jsonl").write_bytes(MESSY.read_bytes())
    (d / "notes.txt").write_text("my notes, not posttrain's", encoding="utf-8")
    return d


def test_rejected_folder_holding_the_input_is_refused(data_dir: Path):
    before = _snapshot(data_dir)
    res = _cli("apply", data_dir / "messy.jsonl", data_dir / "clean.parquet", "--op", "dedup.exact",
               "--rejected", data_dir)
    assert res.exit_code == 2
    assert "contains the input" in res.output and "Traceback" not in res.output
    assert _snapshot(data_dir) == before
    # --overwrite does not make it safe: an output holding an input is never allowed
    res = _cli("apply", data_dir / "messy.jsonl", data_dir / "clean.parquet", "--op", "dedup.exact",
               "--rejected", data_dir, "--overwrite")
    assert res.exit_code == 2 and _snapshot(data_dir) == before


def test_a_users_folder_given_as_rejected_is_never_emptied(data_dir: Path, tmp_path: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep me", encoding="utf-8")
    args = ["apply", data_dir / "messy.jsonl", tmp_path / "out.parquet", "--op", "dedup.exact", "--rejected", mine]
    res = _cli(*args)
    assert res.exit_code == 2 and "not empty and was not created by posttrain" in res.output
    res = _cli(*args, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (mine / "keep.txt").read_text(encoding="utf-8") == "keep me"
    assert read_rejected(mine)["reason"].to_list() != []


def test_two_applies_into_one_folder_keep_each_others_rejections(tmp_path: Path):
    out = tmp_path / "out"
    for name in ("a", "b"):
        res = _cli("apply", MESSY, out / f"{name}.parquet", "--op", "dedup.exact")
        assert res.exit_code == 0, res.output
    for name in ("a", "b"):
        rejected = read_rejected(rejected_folder(out / f"{name}.parquet"))
        assert "exact_duplicate" in rejected["reason"].to_list()


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "../x", "a/b"])
def test_recipe_names_that_escape_the_runs_folder_are_refused(tmp_path: Path, name: str):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: '{name}'\ndata:\n  inputs: [{{path: {MESSY}}}]\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="r.yaml:1: name"):
        load_recipe(recipe)


def test_run_folder_that_is_a_users_folder_is_refused(tmp_path: Path):
    runs = tmp_path / "runs"
    (runs / "demo").mkdir(parents=True)
    (runs / "demo" / "thesis.tex").write_text("years of work", encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: demo\ndata:\n  inputs: [{{path: {MESSY}}}]\n", encoding="utf-8")
    before = _snapshot(runs)
    res = _cli("run", recipe, "--runs-dir", runs)
    assert res.exit_code == 2 and "was not created by posttrain" in res.output
    assert _snapshot(runs) == before
    res = _cli("run", recipe, "--runs-dir", runs, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (runs / "demo" / "thesis.tex").read_text(encoding="utf-8") == "years of work"
    assert (runs / "demo" / "data" / "train.parquet").is_file()


@pytest.mark.parametrize("with_rejections", [False, True])
def test_convert_never_touches_an_input_named_like_a_rejected_file(tmp_path: Path, with_rejections: bool):
    src = tmp_path / "x.rejected.jsonl"
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    lines = [json.dumps(r) for r in rows] + (["{broken"] if with_rejections else [])
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _snapshot(tmp_path)
    res = _cli("convert", src, tmp_path / "x.parquet")
    assert res.exit_code == 0, res.output
    assert _snapshot(tmp_path)["x.rejected.jsonl"] == before["x.rejected.jsonl"]
    assert (tmp_path / "x.rejected").is_dir() == with_rejections


@pytest.mark.parametrize("command", ["convert", "apply"])
def test_output_equal_to_input_is_refused(tmp_path: Path, command: str):
    src = tmp_path / "m.jsonl"
    src.write_bytes(MESSY.read_bytes())
    before = _snapshot(tmp_path)
    args = [command, src, src, "--to", "openai"] + (["--op", "normalize"] if command == "apply" else [])
    res = _cli(*args)
    assert res.exit_code == 2 and "is the input" in res.output
    assert _snapshot(tmp_path) == before
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    res = _cli(command, src, link, "--to", "openai", *(["--op", "normalize"] if command == "apply" else []))
    assert res.exit_code == 2 and "is the input" in res.output
    assert _snapshot(tmp_path) == {**before, "link.jsonl": before["m.jsonl"]}


def test_an_existing_file_is_replaced_only_when_posttrain_wrote_it(tmp_path: Path):
    out = tmp_path / "clean.jsonl"
    out.write_text("the user's own file\n", encoding="utf-8")
    res = _cli("convert", MESSY, out, "--to", "openai")
    assert res.exit_code == 2 and "was not written by posttrain" in res.output
    assert out.read_text(encoding="utf-8") == "the user's own file\n"
    assert _cli("convert", MESSY, out, "--to", "openai", "--overwrite").exit_code == 0
    assert owns_file(out)
    assert _cli("convert", MESSY, out, "--to", "sharegpt").exit_code == 0  # ours now: a rerun replaces it
    out.write_text("edited by hand\n", encoding="utf-8")  # changed since: no longer ours
    assert _cli("convert", MESSY, out, "--to", "openai").exit_code == 2
    assert out.read_text(encoding="utf-8") == "edited by hand\n"


def test_output_path_that_is_a_folder_is_refused(tmp_path: Path):
    (tmp_path / "out.parquet").mkdir()
    res = _cli("convert", MESSY, tmp_path / "out.parquet")
    assert res.exit_code == 2 and "is an existing folder" in res.output


def test_outputs_get_the_usual_file_mode(tmp_path: Path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_a_second_writer_is_refused_while_the_first_lives_and_a_dead_ones_lock_is_taken_over(tmp_path: Path):
    target = tmp_path / "out.parquet"
    with OutputLock(target):
        res = _cli("convert", MESSY, target)
        assert res.exit_code == 2 and f"being written by process {os.getpid()}" in res.output
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / ".out.parquet.lock"
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename, "since": "x"}))
    assert _cli("convert", MESSY, target).exit_code == 0
    assert not lock.exists()


def test_temporaries_of_a_killed_writer_are_swept_by_the_next_one(tmp_path: Path):
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from dataforge.fileio import AtomicFile, make_temp_dir\n"
        f"AtomicFile(Path({str(tmp_path / 'out.parquet')!r}))\n"
        f"make_temp_dir(Path({str(tmp_path / 'run')!r}))\n"
        "os._exit(9)  # killed before committing\n"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(".tmp-" in n for n in left)
    AtomicFile(tmp_path / "out.parquet").discard()
    assert [p.name for p in tmp_path.iterdir()] == [n for n in left if n.startswith(".run.")]
    assert sweep_temporaries(tmp_path, "run") and list(tmp_path.iterdir()) == []


def test_split_refuses_a_users_folder_and_owns_the_one_it_creates(tmp_path: Path):
    outdir = tmp_path / "splits"
    outdir.mkdir()
    (outdir / "mine.txt").write_text("x", encoding="utf-8")
    assert _cli("split", MESSY, outdir).exit_code == 2
    fresh = tmp_path / "fresh"
    assert _cli("split", MESSY, fresh, "--test-ratio", "0.2").exit_code == 0
    assert owns_folder(fresh) and (fresh / "train.parquet").is_file()
    assert _cli("split", MESSY, fresh, "--test-ratio", "0.3").exit_code == 0  # ours: rerun is fine
