"""The package's structure: dependencies point one way."""
import ast
import pathlib

import fastffi

PACKAGE = pathlib.Path(fastffi.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the package's modules it imports (module level and inside functions)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                root = base[:len(base) - node.level + 1] if node.level else []
                mod = ".".join(root + ([node.module] if node.module else []))
                # `from pkg import sub` imports pkg.sub; `from pkg import name` imports
                # pkg -- except the C core, which imports nothing of the package
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod
                           for a in node.names if a.name != "_core"]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def test_no_import_cycles():
    graph = _imports()
    assert len(graph) > 20
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_layers_point_down():
    """model knows no C text and no tier; cdecl no tier; abi no tier."""
    graph = _imports()
    for name, deps in graph.items():
        layer = name.split(".")[1] if "." in name else ""
        for dep in deps:
            if layer == "model":
                assert not dep.startswith(("fastffi.cdecl", "fastffi.tiers", "fastffi.abi")), (name, dep)
            if layer in ("cdecl", "abi"):
                assert not dep.startswith("fastffi.tiers"), (name, dep)
