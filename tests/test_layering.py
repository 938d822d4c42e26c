"""The layering, read from the imports of every file (ast): app → demos → models, training → models,
bench → models / demos / training's data; no arrow runs back. Every adapter gets its model through
``models.<name>.load``."""
import ast

import pytest

from conftest import REPO

LAYERS = ("app", "demos", "models", "training", "bench")
# what bench/ may take from training/ besides its data modules: the training runs a benchmark repeats in the same
# run (the sentiment variants, the GAN comparison) — never inference or metric code, which lives in models/
BENCH_TRAINING_RUNS = {"training.sentiment": {"MAX_LEN", "batches", "review_vocab", "source_weights", "train"},
                       "training.gan_qp": {"main", "plot_fid"}}


def imports(path):
    """(module, names) of every import in ``path``, nested ones included; ``from a import b`` also as a.b."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, set()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = {alias.name for alias in node.names}
            out.append((node.module, names))
            out += [(f"{node.module}.{name}", set()) for name in names]
    return out


def layer(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in LAYERS else "gradio" if top == "gradio" else None


def files(folder):
    return sorted((REPO / folder).glob("*.py")) if folder != "app" else [REPO / "app.py"]


FORBIDDEN = {
    "models": {"gradio", "demos", "training", "bench", "app"},
    "demos": {"training", "bench", "app"},
    "app": {"models", "training", "bench"},
    "training": {"gradio", "demos", "bench", "app"},
    "bench": {"app"},
}


@pytest.mark.parametrize("folder", list(FORBIDDEN))
def test_no_arrow_runs_back(folder):
    for path in files(folder):
        for module, _ in imports(path):
            assert layer(module) not in FORBIDDEN[folder], f"{path.relative_to(REPO)} imports {module}"


def training_uses(path) -> dict[str, set]:
    """{training module: the names ``path`` takes from it}, through ``from training.x import n`` and through
    ``from training import x`` followed by ``x.n``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases, used = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "training":
            for alias in node.names:
                if node.module == "training" and (REPO / "training" / f"{alias.name}.py").is_file():
                    aliases[alias.asname or alias.name] = f"training.{alias.name}"
                else:
                    used.setdefault(node.module, set()).add(alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.setdefault(aliases[node.value.id], set()).add(node.attr)
    return used


def test_bench_takes_only_data_and_training_runs_from_training():
    for path in files("bench"):
        for module, names in training_uses(path).items():
            if module == "training" or module.endswith("_data"):
                continue  # the package's cache helpers and the data commands
            allowed = BENCH_TRAINING_RUNS.get(module, set())
            assert names <= allowed, f"{path.name} imports {sorted(names - allowed)} from {module}"


def test_the_layering_test_sees_a_violation(tmp_path):
    """The check above is not vacuous: a models file importing gradio, or bench importing a metric, is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import gradio as gr\n    from training import gan_qp\n"
                   "    from training.dgcnn import scores\n    return gan_qp.sample\n")
    assert ("gradio", set()) in imports(bad) and layer("gradio") in FORBIDDEN["models"]
    assert training_uses(bad) == {"training.dgcnn": {"scores"}, "training.gan_qp": {"sample"}}


def test_adapters_get_their_model_through_models_load():
    """No adapter rebuilds a model by hand: no safetensors, no load_state_dict, no config parsing in demos/."""
    for path in files("demos"):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        calls = {node.func.attr for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
        assert "load_state_dict" not in calls, path.name
        assert not any(m.startswith("safetensors") for m, _ in imports(path)), path.name
    from demos import TABS

    for tab in TABS:
        path = REPO / "demos" / f"{tab.__name__.split('.')[-1]}.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {alias.asname or alias.name for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module == "models" for alias in node.names}
        via_module = any(isinstance(node, ast.Attribute) and node.attr == "load" and isinstance(node.value, ast.Name)
                         and node.value.id in modules for node in ast.walk(tree))
        via_name = any(m.startswith("models.") and "load" in names for m, names in imports(path))
        assert via_module or via_name, tab.TAB_ID
