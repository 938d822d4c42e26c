"""The frame: app assembly, the adapter registry, launch settings and Spaces readiness."""
import re

import gradio as gr
import pytest

import app
from conftest import REPO
from demos import TABS


def test_every_adapter_follows_the_contract():
    ids = [tab.TAB_ID for tab in TABS]
    assert len(ids) == len(set(ids))
    for tab in TABS:
        assert tab.TITLE and callable(tab.build_tab) and tab.POST
        assert re.search(r"[\u4e00-\u9fff]", tab.TITLE) and re.search(r"[A-Za-z]", tab.TITLE)  # zh + en


def test_app_has_one_tab_per_adapter_and_named_endpoints():
    demo = app.build_app()
    tabs = [b for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert [t.id for t in tabs] == [tab.TAB_ID for tab in TABS]
    api_names = [fn.api_name for fn in demo.fns.values() if fn.api_name]
    for tab in TABS:
        assert any(name.startswith(tab.TAB_ID + "_") for name in api_names), tab.TAB_ID
    assert len(api_names) == len(set(api_names))


def test_header_links_every_post():
    demo = app.build_app()
    header = next(b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown))
    for tab in TABS:
        assert f"]({tab.POST})" in header and tab.POST.startswith("https://kexue.fm/archives/")
    assert len({tab.POST for tab in TABS}) == len(TABS)


def test_readme_lists_every_tab_and_no_other():
    """The README's table of tabs has one row per adapter in demos.TABS (the count is read from TABS)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("| tab | post | status |")[1].split("\n\n")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "kexue.fm" in line]
    assert len(rows) == len(TABS)
    for tab in TABS:
        assert sum(tab.POST in row for row in rows) == 1, tab.TAB_ID


def test_building_the_app_imports_no_torch():
    """Models load lazily, on first use: building the page must not import torch (2.5 s of the cold start here)."""
    import subprocess
    import sys

    code = "import sys, app; app.build_app(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def test_host_and_port_come_from_flags_or_the_space_environment(monkeypatch):
    args = app.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    assert app.parse_args(["--host", "0.0.0.0", "--port", "8080"]).port == 8080
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    args = app.parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7861)


def test_uploads_are_capped_and_the_cache_is_emptied():
    assert app.launch_kwargs()["max_file_size"] == "20mb"
    frequency, age = app.build_app().delete_cache
    assert 0 < frequency <= age <= 7 * 86400


def test_readme_front_matter_matches_requirements():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    front = readme.split("---")[1]
    fields = dict(line.split(":", 1) for line in front.strip().splitlines())
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["sdk"] == "gradio"
    pinned = re.search(r"^gradio(?:\[mcp\])?==(\S+)$", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert fields["sdk_version"] == pinned
    assert (REPO / fields["app_file"]).is_file()


def test_no_file_in_the_repository_is_over_10_mb():
    """A Hugging Face Space refuses files over 10 MB outside Git LFS: large weights are written in shards."""
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [REPO / f for f in listed.stdout.decode().split("\0") if f]
    assert files
    too_big = [f"{p.relative_to(REPO)} ({p.stat().st_size / 2**20:.1f} MB)" for p in files
               if p.is_file() and p.stat().st_size > 10 * 2**20]
    assert not too_big


def test_readme_holds_the_two_setup_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "<!-- run-command -->" in readme and "python app.py" in readme
    assert "<!-- test-command -->" in readme and "pytest" in readme


def test_every_tab_has_the_same_layout():
    """Explanation (with the post and its formula) → a row of an input column holding the primary button and an
    output column → further sections → the closed model-card accordion, last."""
    demo = app.build_app()
    tabs = [b for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    for tab, module in zip(tabs, TABS):
        children = [c for c in tab.children if not isinstance(c, gr.State)]
        first, main, last = children[0], children[1], children[-1]
        assert isinstance(first, gr.Markdown) and module.POST in first.value and "$$" in first.value, module.TAB_ID
        assert isinstance(main, gr.Row) and isinstance(main.children[0], gr.Column), module.TAB_ID
        buttons = [b for b in _descendants(main.children[0]) if isinstance(b, gr.Button)]
        assert any(b.variant == "primary" for b in buttons), module.TAB_ID
        assert isinstance(last, gr.Accordion) and "model-card" in last.elem_classes and not last.open, module.TAB_ID
        headings = [c.value for c in children[2:-1] if isinstance(c, gr.Markdown) and (c.value or "").startswith("#")]
        assert all(h.startswith("### ") for h in headings), headings


def _descendants(block):
    for child in getattr(block, "children", []):
        yield child
        yield from _descendants(child)


def test_no_tab_draws_through_pyplot():
    """Figures are bare matplotlib Figures: pyplot's figure registry and rcParams are process-wide, so two requests
    drawing at once through pyplot could draw into each other's figure."""
    import ast

    for path in sorted((REPO / "demos").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names] + [node.module or "" for node in ast.walk(tree)
                                                if isinstance(node, ast.ImportFrom)]
        assert not any("pyplot" in name for name in imported), path.name
