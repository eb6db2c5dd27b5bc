"""What a command may write, replace and delete: the output-safety rules, in one place.

Every command that writes follows the same rules, checked *before* any work:

1. **No overlap with inputs.** An output that is, contains or sits inside an input is
   refused (``convert a.jsonl a.jsonl``, ``--rejected`` pointing at the input's folder,
   a run folder that holds the recipe's data).
2. **Replace or delete only what the toolkit created.** A folder the toolkit creates gets
   a marker file (:data:`MARKER`); a file it writes into a folder it does not own is
   recorded in that folder's marker (its size and modification time), so a later run
   recognises it. Replacing an existing file, or writing into an existing non-empty
   folder, that is not recorded as ours is refused unless the user passes
   ``--overwrite``; even then nothing but the named outputs is touched.
3. **One writer at a time.** A lock file beside the output (:class:`OutputLock`) holds
   the writer's pid; a second process is refused while the first lives, and a lock left
   by a killed process is taken over.
4. **No temporaries left behind forever.** Temporary files and folders carry the
   writer's pid in their name (:func:`temp_prefix`); the next writer of the same target
   removes those whose process is gone (:func:`sweep_temporaries`).

The Python API (``dataforge.write``, ``dataforge.apply``) writes where it is told, like
polars or pandas; these rules are for commands (CLI and recipe runs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Iterable, Sequence

from .errors import UnsafeOutputError

#: marker/ledger file: present in every folder the toolkit created; lists files it wrote
MARKER = ".posttrain-owned"


# -- 1. inputs vs outputs -------------------------------------------------------------------


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_no_overlap(inputs: Iterable[Path | str], outputs: Iterable[Path | str]) -> None:
    """Refuse an output that is, contains or sits inside an input (symlinks resolved)."""
    ins = [(Path(p), _real(Path(p))) for p in inputs if p is not None]
    for out in outputs:
        if out is None:
            continue
        o = _real(Path(out))
        for shown, i in ins:
            if o == i:
                raise UnsafeOutputError(f"output {out} is the input {shown}: choose another output path")
            if i.is_relative_to(o):
                raise UnsafeOutputError(f"output {out} contains the input {shown}: choose another output path")
            if o.is_relative_to(i):
                raise UnsafeOutputError(f"output {out} lies inside the input {shown}: choose another output path")


# -- 2. ownership -----------------------------------------------------------------------------


def _read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(folder: Path, data: dict) -> None:
    tmp = folder / f".{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / MARKER)


def owns_folder(folder: Path | str) -> bool:
    """True when the toolkit created ``folder`` (it holds a marker saying so)."""
    marker = _read_marker(Path(folder))
    return bool(marker and marker.get("folder"))


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def owns_file(path: Path | str) -> bool:
    """True when the toolkit wrote ``path`` and nobody has changed it since."""
    path = Path(path)
    if not path.is_file():
        return False
    if owns_folder(path.parent):
        return True
    marker = _read_marker(path.parent) or {}
    return marker.get("files", {}).get(path.name) == _stamp(path)


def record_file(path: Path | str, command: str = "") -> None:
    """Note in the folder's marker that the toolkit wrote ``path`` (no-op in owned folders)."""
    path = Path(path)
    folder = path.parent
    marker = _read_marker(folder) or {"folder": False}
    if marker.get("folder"):
        return
    marker.setdefault("files", {})[path.name] = _stamp(path)
    _write_marker(folder, marker)


def claim_folder(folder: Path | str, command: str, *, overwrite: bool = False) -> Path:
    """Make ``folder`` an output folder of the toolkit.

    A missing folder is created and marked as ours; an empty one is marked as ours; an
    existing non-empty folder must be ours already, else it is refused (with
    ``overwrite``, it is used as is and stays unmarked: files are then only added or
    replaced by name, never deleted).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UnsafeOutputError(f"{folder} exists and is not a folder")
    if owns_folder(folder):
        return folder
    if folder.is_dir() and any(folder.iterdir()):
        if overwrite:
            return folder
        raise UnsafeOutputError(
            f"{folder} exists, is not empty and was not created by posttrain: "
            "choose a new folder, or pass --overwrite to write into it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    mark_folder(folder, command)
    return folder


def mark_folder(folder: Path | str, command: str) -> None:
    """Record that the toolkit created ``folder`` (call it right after creating it)."""
    _write_marker(Path(folder), {"folder": True, "created_by": command,
                                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def check_replaceable(path: Path | str, *, overwrite: bool = False) -> None:
    """Refuse to replace an existing file the toolkit did not write (unless ``overwrite``)."""
    path = Path(path)
    if path.is_dir():
        raise UnsafeOutputError(f"output {path} is an existing folder; give a file path")
    if path.exists() and not overwrite and not owns_file(path):
        raise UnsafeOutputError(
            f"{path} exists and was not written by posttrain: choose another output, "
            "or pass --overwrite to replace it"
        )


def remove_owned(path: Path | str) -> bool:
    """Delete ``path`` (a file or folder) only when the toolkit owns it; True if removed."""
    path = Path(path)
    if path.is_dir() and owns_folder(path):
        shutil.rmtree(path)
        return True
    if path.is_file() and owns_file(path):
        path.unlink()
        return True
    return False


def prepare_outputs(
    inputs: Sequence[Path | str | None],
    files: Sequence[Path | str | None] = (),
    folders: Sequence[Path | str | None] = (),
    *,
    overwrite: bool = False,
) -> None:
    """The checks of a command, before any work: no overlap with inputs, every output
    file replaceable, every output folder new, empty or ours (``claim_folder`` later)."""
    outs = [Path(p) for p in (*files, *folders) if p is not None]
    check_no_overlap([p for p in inputs if p is not None], outs)
    for f in files:
        if f is not None:
            check_replaceable(f, overwrite=overwrite)
    for d in folders:
        if d is None:
            continue
        d = Path(d)
        if d.exists() and not d.is_dir():
            raise UnsafeOutputError(f"{d} exists and is not a folder")
        if d.is_dir() and any(d.iterdir()) and not owns_folder(d) and not overwrite:
            raise UnsafeOutputError(
                f"{d} exists, is not empty and was not created by posttrain: "
                "choose a new folder, or pass --overwrite to write into it"
            )


# -- 3. one writer at a time ------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """``.<name>.lock`` beside ``target``: refuses a second writer while the first runs.

    A lock whose process is gone (same host) is taken over; a lock from another host is
    refused (its process cannot be checked from here).
    """

    def __init__(self, target: Path | str) -> None:
        target = Path(target)
        self.path = target.parent / f".{target.name}.lock"
        self.target = target
        self._held = False

    def acquire(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and (holder.get("host") != me["host"] or _alive(int(holder.get("pid", 0)))):
                    raise UnsafeOutputError(
                        f"{self.target} is being written by process {holder.get('pid')} on "
                        f"{holder.get('host')} since {holder.get('since')}; wait for it to finish"
                        f" (or delete {self.path} if that process is gone)"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its writer died
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self._held = True
            return self
        raise UnsafeOutputError(f"could not lock {self.target} ({self.path} keeps reappearing)")

    def _holder(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # half-written by a writer that died at once: stale
        return data if isinstance(data, dict) else None

    def held(self) -> bool:
        """Whether a live process (or one on another host) holds the lock right now."""
        holder = self._holder() if self.path.is_file() else None
        if holder is None:
            return False
        return holder.get("host") != socket.gethostname() or _alive(int(holder.get("pid", 0)))

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# -- 4. temporaries ---------------------------------------------------------------------------


def temp_prefix(name: str, kind: str = "tmp") -> str:
    """Prefix of a temporary beside target ``name``: ``.<name>.<pid>.tmp-`` (``kind="old"``
    for the previous version of an output while the new one takes its place)."""
    return f".{name}.{os.getpid()}.{kind}-"


def sweep_temporaries(folder: Path | str, name: str) -> list[Path]:
    """Remove temporaries of target ``name`` in ``folder`` whose writing process is gone,
    and the locks taken on them (``..<name>.<pid>.tmp-*.lock``: a command that wrote into
    a temporary folder, such as a recipe's train stage, locks it like any output)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^\.?\.{re.escape(name)}\.(\d+)\.(?:tmp|old)-")
    removed = []
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


__all__ = [
    "MARKER", "OutputLock", "check_no_overlap", "check_replaceable", "claim_folder", "mark_folder", "owns_file",
    "owns_folder", "prepare_outputs", "record_file", "remove_owned", "sweep_temporaries", "temp_prefix",
]
