"""The package's import graph, computed from the source (issue 22): no cycle, no import from a
lower layer to a higher one, and few function-level imports of the package's own modules, each
with a reason on its line."""

import ast
from collections import defaultdict
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "centernet_keras"

#: Layers from the bottom up: a module may import its own layer and the ones below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("text", "io", "console", "timing", "cpu_kernels", "startup", "choices", "decoder_defaults",
     "boxes", "gather", "locations", "keypoints", "detections", "tracking"),
    ("data", "layers"),
    ("backbones", "necks", "heads", "losses", "targets", "decoding"),
    ("models",),
    ("preprocess", "engines", "tiling", "inference", "runtime", "export", "quantization"),
    ("evaluation", "visualize", "doctor", "export_verify"),
    ("training",),
    ("cli", "commands"),
)  # fmt: skip
#: At most this many function-level imports of the package's own modules (each with a comment).
MAX_LOCAL_IMPORTS = 10


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads (``from a import b`` → ``a.b`` where that
    is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    base = module.split(".")
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = [f"{source}.{a.name}" for a in node.names]
    found = [name if name in MODULES else source for name in found]
    return [m for m in found if m in MODULES and m != module]


def _layer(module: str) -> int:
    """The module's layer: its index in ``LAYERS``; the package root (the public face, which
    loads everything) is above them all."""
    if module == "centernet_keras":
        return len(LAYERS)
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"{module}: not in any layer of LAYERS (add it)")


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, int, str, str]]]:
    """(module → the modules it imports, [(module, line, target, source line) of each
    function-level import])."""
    edges: dict[str, set[str]] = defaultdict(set)
    local = []
    for module, path in MODULES.items():
        text = path.read_text()
        tree = ast.parse(text)
        in_function = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(module, node):
                edges[module].add(target)
                if id(node) in in_function:
                    local.append((module, node.lineno, target, text.splitlines()[node.lineno - 1]))
    return edges, local


def test_every_module_has_a_layer_and_imports_only_its_own_or_lower_layers():
    edges, _ = _graph()
    upward = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, targets in edges.items()
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert not upward, "\n".join(sorted(upward))


def test_the_import_graph_has_no_cycle():
    edges, _ = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_few_function_level_imports_of_own_modules_each_with_a_reason():
    _, local = _graph()
    statements = {(module, line): source for module, line, _, source in local}
    listing = "\n".join(f"{m}:{n}: {s.strip()}" for (m, n), s in sorted(statements.items()))
    assert len(statements) <= MAX_LOCAL_IMPORTS, listing
    without_reason = [f"{m}:{n}" for (m, n), s in statements.items() if "#" not in s]
    assert not without_reason, f"function-level imports without a reason comment: {without_reason}"


#: The modules that load package modules by name (``importlib.import_module``) on first use,
#: and why: each is a table of names, not a way around the count above.
NAME_LOADERS = {
    "centernet_keras": "the target encoders' TensorFlow ops on first use of their names",
    "centernet_keras.console": "the `centernet` command runs the subcommand's module",
    "centernet_keras.models": "the detector classes load Keras; the registry must not (--help)",
    "centernet_keras.models.registry": "a built-in detector's module registers it on lookup",
    "centernet_keras.training": "TrainConfig / train on first use: importing schedules stays light",
}


def test_only_the_listed_modules_load_modules_by_name():
    loading = {module for module, path in MODULES.items() if "import_module(" in path.read_text()}
    assert loading == set(NAME_LOADERS)
