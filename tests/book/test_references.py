"""Citations, glossary links and errata labels: the book's cross-references stay complete.

No build needed: the tests read ``book/references.bib``, the glossary, the Markdown cells of
the notebooks and the three lists for the notebook rewriters in ``docs/`` (citations.md,
glossary-links.md, errata-labels.md). The book build (warnings as errors) catches a missing
key, term or label too, but only these tests catch a citation, a glossary link or a label
that a rewrite dropped.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "book" / "references.bib"
GLOSSARY = ROOT / "book" / "01_glossary.md"
PAGES = sorted((ROOT / "book").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
TERM = re.compile(r"\{term\}`([^`]*)`")
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([^`>]*)>?`")
LABEL_LINE = re.compile(r"^\(([\w-]+)\)=\n")
KEY_FORM = re.compile(r"^[a-z]+\d{4}[a-z]+$")
HAN = re.compile(r"[\u4e00-\u9fff]")


@cache
def markdown_cells(notebook: str) -> tuple[str, ...]:
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    return tuple("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


@cache
def bibliography() -> dict:
    return dict(parse_file(str(BIB)).entries)


@cache
def glossary_entries() -> list[list[str]]:
    """Each entry's term lines (English first, then the Chinese term), in file order."""
    text = GLOSSARY.read_text(encoding="utf-8")
    entries = []
    for block in re.findall(r"```\{glossary\}\n(?::sorted:\n)?\n(.*?)```", text, re.S):
        terms: list[str] = []
        for line in block.split("\n"):
            if line and not line.startswith(" "):
                terms.append(line)
            elif line.startswith("  ") and terms:
                entries.append(terms)
                terms = []
    return entries


def term_target(role_text: str) -> str:
    """``tokens <token>`` -> ``token``; ``token`` -> ``token``."""
    match = re.fullmatch(r"(?s).*<([^>]*)>\s*", role_text)
    return (match.group(1) if match else role_text).strip().lower()


def doc_table(name: str) -> list[list[str]]:
    """Rows of the tables in docs/<name> whose first cell is in backticks, cells unquoted."""
    rows = []
    for line in (ROOT / "docs" / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows.append([c.strip("`") for c in cells])
    assert rows, f"no table rows found in docs/{name}"
    return rows


def all_texts() -> list[tuple[str, str]]:
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in PAGES]
    texts += [(p.name, "\n".join(markdown_cells(p.stem))) for p in NOTEBOOKS]
    return texts


# ------------------------------------------------------------------------- bibliography


def test_bibliography_entries_are_complete():
    entries = bibliography()
    assert len(entries) >= 50
    for key, entry in entries.items():
        assert KEY_FORM.match(key), (
            f"{key}: keys are author + year + word, e.g. vaswani2017attention"
        )
        fields = {k.lower() for k in entry.fields}
        assert {"title", "year"} <= fields, f"{key}: title and year are required"
        assert fields & {"doi", "eprint", "url", "isbn"}, f"{key}: no doi, eprint, url or isbn"
        assert entry.persons.get("author"), f"{key}: no author"


def test_every_citation_resolves():
    keys = set(bibliography())
    for name, text in all_texts():
        for group in CITE.findall(text):
            for key in group.split(","):
                assert key.strip() in keys, f"{name}: {key.strip()!r} is not in book/references.bib"


def test_citations_listed_for_the_rewriters_are_in_the_notebooks():
    for notebook, key, *_ in doc_table("citations.md"):
        cited = {
            k.strip()
            for g in CITE.findall("\n".join(markdown_cells(notebook)))
            for k in g.split(",")
        }
        assert key in cited, f"{notebook} no longer cites {key} (docs/citations.md)"


# ----------------------------------------------------------------------------- glossary


def test_glossary_entries_are_bilingual_and_unique():
    entries = glossary_entries()
    assert len(entries) >= 60
    seen: dict[str, list[str]] = {}
    for terms in entries:
        assert not HAN.search(terms[0]), f"{terms}: the English term comes first"
        assert any(HAN.search(t) for t in terms), f"{terms[0]}: no Chinese term"
        for term in terms:
            assert term.lower() not in seen, f"{term!r} in two entries: {seen.get(term.lower())}"
            seen[term.lower()] = terms


def test_every_term_link_has_an_entry():
    known = {t.lower() for terms in glossary_entries() for t in terms}
    for name, text in all_texts():
        for role in TERM.findall(text):
            assert term_target(role) in known, f"{name}: no glossary entry for {role!r}"


def test_glossary_links_listed_for_the_rewriters_are_in_the_notebooks():
    entry_of = {t.lower(): terms[0] for terms in glossary_entries() for t in terms}
    for entry, notebook, *_ in doc_table("glossary-links.md"):
        linked = {
            entry_of.get(term_target(r)) for r in TERM.findall("\n".join(markdown_cells(notebook)))
        }
        assert entry in linked, f"{notebook} no longer links the glossary entry {entry!r}"


def test_each_glossary_entry_is_linked_once_in_the_chapters():
    """One link per entry in the notebooks (docs/glossary-links.md: at its first use)."""
    import yaml

    entry_of = {t.lower(): terms[0] for terms in glossary_entries() for t in terms}
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    order = [
        Path(ch["file"]).name
        for part in toc["parts"]
        for ch in part["chapters"]
        if ch["file"].startswith("notebooks/")
    ]
    linked_in: dict[str, list[str]] = {}
    for notebook in order:
        text = "\n".join(markdown_cells(notebook))
        for entry in {entry_of.get(term_target(r)) for r in TERM.findall(text)} - {None}:
            linked_in.setdefault(entry, []).append(notebook)
    twice = {entry: where for entry, where in linked_in.items() if len(where) > 1}
    assert not twice, f"glossary entries linked in more than one chapter: {twice}"


# ------------------------------------------------------------------------------- errata


@pytest.mark.parametrize("row", doc_table("errata-labels.md"), ids=lambda row: row[0])
def test_errata_label_tops_a_markdown_cell(row):
    label, notebook = row[0], row[1]
    tops = {m.group(1) for c in markdown_cells(notebook) if (m := LABEL_LINE.match(c))}
    assert label in tops, f"({label})= is not the first line of a Markdown cell of {notebook}"


def test_errata_page_links_only_existing_labels():
    labels = {
        m.group(1) for p in NOTEBOOKS for c in markdown_cells(p.stem) if (m := LABEL_LINE.match(c))
    }
    for page in PAGES:
        labels |= set(re.findall(r"^\(([\w-]+)\)=$", page.read_text(encoding="utf-8"), re.M))
    text = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    targets = set(REF.findall(text))
    assert targets, "the errata page links nothing"
    assert targets <= labels, f"undefined labels: {sorted(targets - labels)}"
    rows = re.findall(r"^\| E(\d+) \|", text, re.M)
    assert [int(r) for r in rows] == list(range(1, len(rows) + 1)), (
        "errata rows E1, E2, ... in order"
    )
