"""Saving and loading torch files safely: atomic writes, ``weights_only`` reads, clear errors.

Trainer checkpoints and the model store (:mod:`llmwidgets.training.store`) both go
through these two functions:

* :func:`save_file` writes a temporary file and renames it, so a crash during the write
  (a killed kernel) leaves the previous file intact, never half a file;
* :func:`load_file` reads with ``torch.load(..., weights_only=True)``: only tensors,
  numbers, strings, bytes and containers of them, never code. A file that cannot be
  read raises :class:`CheckpointError` naming the path and saying why in words: it is
  damaged (truncated, overwritten), it is no torch file at all, or it asks to run code
  while loading (a malicious pickle), which is refused. The advice in torch's own
  message, to load with ``weights_only=False``, is the unsafe route and is not repeated.
"""

from __future__ import annotations

import os
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "load_file", "save_file"]

# Modules whose names a torch file legitimately mentions (tensor rebuilding, containers).
_DATA_MODULES = ("torch", "collections", "numpy", "_codecs")


class CheckpointError(ValueError):
    """A file that cannot be loaded: damaged, of another kind, or unsafe to load."""


def save_file(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary file next to ``path``, then rename it into place.

    Args:
        obj: what to save (tensors, numbers, strings and containers of them).
        path: the file; its folder is created when missing.

    Returns:
        The path written, as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # atomic on one file system
    return path


def _globals_in_pickle(data: bytes) -> list[str]:
    """The ``module.name`` globals a plain pickle imports, read without running it."""
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.append(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # random bytes end the scan; what was found counts
        pass
    return found


def _unsafe_globals(path: Path, message: str) -> list[str]:
    """Globals outside the data modules that the file asks for (code, not data)."""
    names = re.findall(r"GLOBAL ([\w.]+)", message)
    if not names and not zipfile.is_zipfile(path):
        names = _globals_in_pickle(path.read_bytes())
    return [n for n in dict.fromkeys(names) if n.split(".")[0] not in _DATA_MODULES]


def load_file(path: str | os.PathLike[str], what: str = "a trainer checkpoint") -> Any:
    """``torch.load`` with ``weights_only=True`` onto the CPU, with errors in words.

    Args:
        path: the file.
        what: what the file should be, for the messages ("a trainer checkpoint").

    Returns:
        The loaded object.

    Raises:
        FileNotFoundError: when there is no file at ``path`` (naming it).
        CheckpointError: when the file is a folder, empty, damaged, not a torch file, or
            unsafe to load (it names the code it asks for); the message names the path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not {what}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): it is damaged or not {what}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise  # the file may be fine: say what the system says
    except Exception as err:  # any failure to parse means "damaged" here
        unsafe = _unsafe_globals(path, str(err))
        if unsafe:
            raise CheckpointError(
                f"{path} is unsafe to load and was not loaded: it asks to run code "
                f"({', '.join(unsafe)}) while loading, which {what} never does. "
                "Load only files you made or trust"
            ) from None
        with path.open("rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
        kind = "a damaged torch archive" if zipped else "not a torch file"
        raise CheckpointError(
            f"{path} could not be loaded ({size:,} bytes, {kind}): it is damaged "
            f"(e.g. truncated) or not {what}"
        ) from None
