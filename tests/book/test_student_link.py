"""The "Colab (student version)" entry of a notebook page's launch menu (book/_ext/llmbook.py).

The theme's own launch buttons are made by sphinx-book-theme's ``add_launch_buttons``
from ``_config.yml``'s settings, here with a stand-in Sphinx app (no book build); then
llmbook's ``page_context`` adds the student entry, which must point at the same notebook
on the ``student`` branch (where ``.github/workflows/book.yml`` publishes them).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import llmbook  # noqa: E402  (the book's Sphinx extension, not part of llmwidgets)

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]  # https://github.com/ORG/REPO
ORG, REPO = REPO_URL.rstrip("/").split("/")[-2:]


def theme_context(pagename: str) -> dict:
    """A page's context after sphinx-book-theme has added its launch buttons."""
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    launch = CONFIG["launch_buttons"]
    app = SimpleNamespace(
        config={
            "html_theme_options": {
                "launch_buttons": launch,
                "repository_branch": CONFIG["repository"]["branch"],
                "path_to_docs": CONFIG["repository"]["path_to_book"],
            }
        },
        env=SimpleNamespace(
            doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
            metadata={pagename: {"kernelspec": {"name": "python3"}}},
        ),
        outdir=str(ROOT / "_build" / "html"),
    )
    context = {
        "pagename": pagename,
        "sourcename": f"{pagename}.ipynb",
        "header_buttons": [],
        "github_url": "https://github.com",
        "github_user": ORG,
        "github_repo": REPO,
    }
    add_launch_buttons(app, pagename, "page.html", context, None)
    return context


def launch_menu(context: dict) -> list[dict]:
    (group,) = [g for g in context["header_buttons"] if g.get("label") == "launch-buttons"]
    return group["buttons"]


def test_a_notebook_page_gets_the_student_version_in_colab():
    context = theme_context("notebooks/04_math")
    colab = "https://colab.research.google.com/github"
    assert [b["url"] for b in launch_menu(context)] == [
        f"{colab}/{ORG}/{REPO}/blob/main/notebooks/04_math.ipynb"
    ]
    llmbook.page_context(SimpleNamespace(), "notebooks/04_math", "page.html", context, None)
    first, student = launch_menu(context)
    assert student["url"] == f"{colab}/{ORG}/{REPO}/blob/student/notebooks/04_math.ipynb"
    assert student["text"] == "Colab (student version)" and student["type"] == "link"
    assert student["icon"] == first["icon"]
    llmbook.add_student_colab_button(context)  # idempotent
    assert len(launch_menu(context)) == 2


def test_pages_without_a_colab_notebook_link_get_nothing():
    context = {"header_buttons": [{"label": "download-buttons", "buttons": []}]}
    llmbook.add_student_colab_button(context)
    assert context == {"header_buttons": [{"label": "download-buttons", "buttons": []}]}
    llmbook.add_student_colab_button({})  # a page without header buttons


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "https://colab.research.google.com/github/o/r/blob/main/notebooks/03b_tokenization.ipynb",
            "https://colab.research.google.com/github/o/r/blob/student/notebooks/03b_tokenization.ipynb",
        ),
        ("https://colab.research.google.com/github/o/r/blob/main/book/intro.ipynb", None),
        ("https://colab.research.google.com/github/o/r/blob/main/notebooks/x.md", None),
        ("https://mybinder.org/v2/gh/o/r/main?urlpath=tree/notebooks/x.ipynb", None),
    ],
)
def test_student_colab_url(url, expected):
    assert llmbook.student_colab_url(url) == expected
