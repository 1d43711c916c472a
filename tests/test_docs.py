"""The documentation points at things that exist.

* Every relative link in ``README.md``, ``CHANGELOG.md`` and ``docs/**/*.md`` resolves to a file
  or folder of the repository, and an anchor into a Markdown file to one of its headings
  (GitHub's rule: lower case, punctuation dropped, spaces to hyphens).
* Every key a ``--params "..."`` names in them exists in ``conf/base/parameters*.yml`` (nested
  keys; a value such as ``${runtime_params:...}`` counts), is a runtime parameter the catalog
  reads (``${runtime_params:predict.input, ...}``), or lies below a free-form options mapping
  declared empty there (``executor_options: {}``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf" / "base"

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
PARAMS = re.compile(r"--params[ =](?:\"([^\"]*)\"|'([^']*)'|(\S+))")
RUNTIME = re.compile(r"\$\{runtime_params:\s*([\w.]+)")


def doc_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [f for f in files if f.is_file()]


def relative_links(text: str) -> list[str]:
    """Link targets outside code (fenced blocks and code spans) that are not web addresses."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return [t for t in LINK.findall(prose)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (``## The `x` y`` -> ``the-x-y``)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(f"{slug}-{n}" if n else slug)
    return out


def broken_links(path: Path) -> list[str]:
    out = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file, _, anchor = target.split("?", 1)[0].partition("#")
        dest = path.parent / file if file else path
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in anchors(dest)):
            out.append(target)
    return out


def split_top_level(text: str) -> list[str]:
    """``a=1,b=[x,y],c={k: v}`` -> ``["a=1", "b=[x,y]", "c={k: v}"]``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{(" and 1 or 0
        depth -= ch in "]})" and 1 or 0
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in [*parts, cur] if p.strip()]


def params_keys(text: str) -> list[str]:
    keys = []
    for m in PARAMS.finditer(text):
        body = next(g for g in m.groups() if g is not None)
        keys += [item.split("=", 1)[0].strip() for item in split_top_level(body) if "=" in item]
    return keys


def load_parameters() -> dict:
    params: dict = {}
    for f in sorted(CONF.glob("parameters*.yml")):
        params.update(yaml.safe_load(f.read_text()) or {})
    return params


def runtime_keys() -> set[str]:
    return {k for f in CONF.glob("*.yml") for k in RUNTIME.findall(f.read_text())}


def key_exists(params: dict, key: str, runtime: set[str]) -> bool:
    if key in runtime:
        return True
    node = params
    for part in key.split("."):
        if isinstance(node, dict) and node == {}:
            return True  # below a free-form options mapping (executor_options: {})
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


DOCS = doc_files()


def test_the_docs_are_found():
    names = {f.relative_to(REPO).as_posix() for f in DOCS}
    assert {"README.md", "docs/search.md", "docs/tutorial.md", "docs/outputs.md"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == [], f"{path.relative_to(REPO)}: links to missing files"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_params_keys_exist(path):
    params, runtime = load_parameters(), runtime_keys()
    missing = [k for k in params_keys(path.read_text(encoding="utf-8"))
               if not key_exists(params, k, runtime)]
    assert missing == [], f"{path.relative_to(REPO)}: --params keys not in conf/base: {missing}"


def test_the_checks_catch_what_they_should(tmp_path):
    """The checkers themselves: a broken link and an unknown key are reported, the rest not."""
    doc = tmp_path / "doc.md"
    (tmp_path / "there.md").write_text("# A `b` (c)\n## A b c\n")
    doc.write_text("[ok](there.md#a-b-c) [ok2](there.md#a-b-c-1) [web](https://example.org/x)\n"
                   "[gone](missing.md) [no anchor](there.md#zz) [self](#heading) [x](#nope)\n"
                   "# Heading\n"
                   "`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n")
    assert broken_links(doc) == ["missing.md", "there.md#zz", "#nope"]
    text = ('kedro run --params "search.k=8,evaluate.datasets=[a,b],search.no_such=1" '
            "--params 'predict.input=/x,search.executor_options.address=auto'")
    assert params_keys(text) == ["search.k", "evaluate.datasets", "search.no_such",
                                 "predict.input", "search.executor_options.address"]
    params, runtime = load_parameters(), runtime_keys()
    found = {k: key_exists(params, k, runtime) for k in params_keys(text)}
    assert found == {"search.k": True, "evaluate.datasets": True, "search.no_such": False,
                     "predict.input": True, "search.executor_options.address": True}


def plugin_examples() -> dict[str, str]:
    """The ``python`` blocks of docs/plugins.md's "One example per kind" that implement hooks,
    by the heading above them."""
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    text = text[text.index("## One example per kind"):]
    out, heading = {}, None
    for m in re.finditer(r"^### ([^\n]+)$|^```python\n(.*?)^```", text, re.S | re.M):
        if m.group(1):
            heading = m.group(1).strip()
        elif "@hookimpl" in m.group(2):
            out[heading] = m.group(2)
    return out


def test_plugins_md_has_an_example_of_every_kind():
    from aixcell_automl.plugins.kinds import KINDS

    titles = {"backbone": "Backbone", "augmentation": "Augmentation",
              "metafeature_extractor": "Meta-feature extractor", "metamodel": "Meta-model",
              "postprocessor": "Post-processor", "metric": "Metric",
              "strategy": "Search strategy"}
    assert set(titles) == {k.name for k in KINDS}
    assert set(plugin_examples()) == set(titles.values())


@pytest.mark.parametrize("heading", sorted(plugin_examples()))
def test_plugin_example_passes_check_plugin(heading):
    """Each example, loaded as a module, passes the conformance check plugin authors run."""
    import types

    from aixcell_automl.plugins.testing import check_plugin

    module = types.ModuleType("aixcell_doc_example_" + re.sub(r"\W", "_", heading.lower()))
    exec(compile(plugin_examples()[heading], module.__name__, "exec"), module.__dict__)
    check_plugin(module)
