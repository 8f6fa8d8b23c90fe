"""The GPU check's notebook runner: notebooks side by side, each in its own kernel.

``run_notebooks`` starts this file once per notebook (``python gpu_check_notebooks.py
NOTEBOOK --work DIR --timeout S``), ``jobs`` at a time, each child in its own process
group, so that a notebook over its time is ended together with its kernel. The child
executes the notebook with nbclient, writes it executed to ``DIR/notebooks/NAME.ipynb``
and its row (status, error, wall time) to ``DIR/notebooks/NAME.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def execute_notebook(path: Path, dest: Path, cell_timeout: float) -> dict:
    """Run one notebook in a fresh kernel (cwd: its folder); write it executed to ``dest``.

    Returns:
        ``{"notebook", "status" ("ok", "error" or "timeout"), "error", "seconds"}``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=int(cell_timeout),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    row = {"notebook": path.stem, "status": "ok", "error": None}
    start = time.perf_counter()
    try:
        client.execute()
    except CellTimeoutError:
        row.update(status="timeout", error=f"a cell ran over {cell_timeout:.0f} s")
    except CellExecutionError as err:
        row.update(status="error", error=f"{err.ename}: {err.evalue}"[:300])
    except DeadKernelError as err:
        row.update(status="error", error=f"the kernel died: {err}"[:300])
    row["seconds"] = round(time.perf_counter() - start, 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return row


def run_notebooks(
    paths: list[Path], work: Path, jobs: int, deadline: float, timeout: float, env: dict[str, str]
) -> list[dict]:
    """Run ``paths`` ``jobs`` at a time, each in its own process group.

    Args:
        paths: the notebooks.
        work: the folder of the executed notebooks and their rows.
        jobs: notebooks at once.
        deadline: a ``time.monotonic()`` by which every notebook is done or stopped; none
            starts within 10 s of it.
        timeout: seconds per notebook (and per cell).
        env: the environment of the children and their kernels.

    Returns:
        One row per path, in order; ``"not run"`` for those the deadline left out.
    """
    pending, running, rows = list(paths), {}, {}
    (work / "notebooks").mkdir(parents=True, exist_ok=True)
    while pending or running:
        while pending and len(running) < jobs and time.monotonic() < deadline - 10:
            path = pending.pop(0)
            row_file = work / "notebooks" / f"{path.stem}.json"
            row_file.unlink(missing_ok=True)
            cmd = [
                sys.executable,
                __file__,
                str(path),
                "--work",
                str(work),
                "--timeout",
                str(timeout),
            ]
            proc = subprocess.Popen(cmd, env=env, start_new_session=True, cwd=ROOT)
            running[path] = (proc, time.monotonic(), row_file)
            print(f"  notebook {path.stem}: started", flush=True)
        if not running:  # the deadline is too close to start the rest
            break
        time.sleep(1.0)
        for path, (proc, began, row_file) in list(running.items()):
            spent = time.monotonic() - began
            if proc.poll() is None and spent < timeout + 30 and time.monotonic() < deadline:
                continue
            rows[path] = _finish(path, proc, spent, row_file, time.monotonic() >= deadline)
            del running[path]
            seconds = rows[path].get("seconds")
            print(
                f"  notebook {path.stem}: {rows[path]['status']} "
                f"({'-' if seconds is None else f'{seconds:.0f}'} s)",
                flush=True,
            )
    for path in pending:
        rows[path] = {
            "notebook": path.stem,
            "status": "not run",
            "seconds": None,
            "error": "no time left before the check's deadline",
        }
    return [rows[p] for p in paths]


def _finish(path: Path, proc: subprocess.Popen, spent: float, row_file: Path, late: bool) -> dict:
    """The row of a child that ended, or that is ended now (with its kernel)."""
    if proc.poll() is None:  # over its time, or the check's
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        why = "the check's deadline" if late else "its timeout"
        return {
            "notebook": path.stem,
            "status": "timeout",
            "seconds": None,
            "error": f"stopped after {spent:.0f} s ({why})",
        }
    if row_file.exists():
        return json.loads(row_file.read_text(encoding="utf-8"))
    return {
        "notebook": path.stem,
        "status": "error",
        "seconds": round(spent, 1),
        "error": f"the runner exited with {proc.returncode}",
    }


def main(argv: list[str] | None = None) -> int:
    """The child: one notebook, its row written next to it."""
    p = argparse.ArgumentParser(description="run one notebook (the GPU check's child)")
    p.add_argument("path", type=Path)
    p.add_argument("--work", type=Path, required=True, help="executed notebooks and rows")
    p.add_argument("--timeout", type=float, default=420.0, help="seconds per cell")
    args = p.parse_args(argv)
    row = execute_notebook(args.path, args.work / "notebooks" / args.path.name, args.timeout)
    out = args.work / "notebooks" / f"{args.path.stem}.json"
    out.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return 0 if row["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
