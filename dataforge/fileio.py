"""Small file helpers every layer shares: atomic writes, content hashes, versions.

One place for them so every writer in the project has the same crash guarantee (a
reader sees the old file or the new one, never half of one) and every manifest records
hashes and versions the same way.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .outputs import MARKER, claim_folder, owns_folder, record_file, sweep_temporaries, temp_prefix


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file (0666 minus the umask)."""
    return 0o666 & ~_umask()


@contextmanager
def writing(target: Path | str) -> Iterator[None]:
    """Make a failed write (full disk, read-only folder, file size limit) name ``target``.

    Python and Arrow raise such errors without a file name, or with the name of our
    temporary (``.out.parquet.4242.tmp-x1y2``); the user should read the output they
    asked for, e.g. ``out/clean.parquet: No space left on device``.
    """
    try:
        yield
    except OSError as exc:
        temporary = f".{Path(target).name}."
        if isinstance(exc.filename, (str, os.PathLike)) and not any(
            part.startswith(temporary) for part in Path(exc.filename).parts
        ):
            raise  # names a file of its own (an input, a folder): keep it
        raise OSError(exc.errno or errno.EIO, exc.strerror or str(exc), str(target)) from exc


class AtomicFile:
    """A temporary file in the target's folder that becomes the target on ``commit``.

    The temporary is named after the target and this process (``outputs.temp_prefix``),
    so the next writer of the same target removes it if this process dies first. The
    committed file gets the usual mode (not ``mkstemp``'s 0600) and is recorded as
    written by the toolkit (``outputs.record_file``), so a rerun may replace it.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        with writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            sweep_temporaries(target.parent, target.name)
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.name), dir=target.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        with writing(self.target):
            os.chmod(self.tmp, _default_mode())
            os.replace(self.tmp, self.target)
            record_file(self.target)
        return self.target

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


class AtomicOutput:
    """Something written in pieces that appears only when complete: ``close`` commits,
    ``abort`` discards. As a context manager it closes on success and aborts on an
    exception, so a crash never leaves a half-written output behind."""

    def close(self) -> Any:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def make_temp_dir(target: Path) -> Path:
    """A temporary folder beside ``target`` (to be renamed into place), named so that the
    next writer of ``target`` can remove it if this process dies first."""
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_temporaries(target.parent, target.name)
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the usual mode
    return tmp


def commit_folder(tmp: Path, target: Path, *, command: str = "", overwrite: bool = False) -> Path:
    """Put a finished temporary folder (from :func:`make_temp_dir`) in place as ``target``.

    A missing target, or one the toolkit owns, is replaced as a whole (the old one is
    moved aside first, then deleted). A folder the toolkit does not own is refused unless
    ``overwrite``; then the new files are moved into it by name and nothing else is touched.
    """
    if target.exists() and not owns_folder(target):
        claim_folder(target, command, overwrite=overwrite)  # refuses unless allowed
        for item in tmp.iterdir():
            if item.name != MARKER:
                os.replace(item, target / item.name)
        shutil.rmtree(tmp)
        return target
    old = None
    if target.exists():
        old = target.with_name(temp_prefix(target.name, "old") + "folder")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it over ``path``."""
    file = AtomicFile(Path(path))
    try:
        with writing(path):
            write(file.tmp)
    except BaseException:
        file.discard()
        raise
    return file.commit()


def write_text_atomic(path: Path | str, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: Path | str, data: Any) -> Path:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return write_text_atomic(path, text)


def file_sha256(path: Path | str) -> str:
    """Hash of a file's bytes, streamed in 1 MiB blocks (inputs can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out)."""
    return {n: v for n in names if (v := _version(n)) is not None}
