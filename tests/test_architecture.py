"""The import arrows between the parts of ``embodied/`` (docs/architecture.md, "Layering").

Every ``import`` under ``embodied/`` is parsed with ``ast`` (imports inside functions, relative
imports, ``from package import module`` and ``importlib.import_module("embodied...")`` with a
literal name) and reduced to an arrow between *parts*: a top-level package (``brain``, ``arena``,
...) or a top-level module (``env``, ``errors``, ...); ``embodied`` is the package's own
``__init__``. An arrow must be in :data:`ALLOWED` (which the docs' table repeats, checked below),
the allowed arrows must form no cycle, and the arrows the issue forbids (:data:`FORBIDDEN`) can
never be allowed by editing the table. :data:`KNOWN_EXCEPTIONS` lists the arrows that exist today
against the table, each with the change that removes it; an exception that is gone must be
removed from the list (the test says so), so the list only shrinks.

The checker is tested on synthetic sources first (a forbidden import inside a function, a
relative import, a cycle), so a checker that reports nothing fails.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

import embodied

PACKAGE = pathlib.Path(embodied.__file__).parent
DOCS = PACKAGE.parent / "docs" / "architecture.md"

BASE = frozenset(
    {"embodied", "errors", "paths", "stats", "display", "settings", "interrupt"}
)  # leaf modules anyone may import
WORLD = frozenset({"body", "arena", "senses", "tasks", "env"})
PRIVILEGED_USERS = frozenset({"train", "viz", "lab", "evaluation"})  # may import the privileged evaluation code

#: part -> the parts it may import besides itself and BASE (the base parts import only each other)
ALLOWED: dict[str, frozenset[str]] = {
    "embodied": frozenset(),
    "errors": frozenset(),
    "paths": frozenset(),
    "stats": frozenset(),
    "display": frozenset(),
    "settings": frozenset(),
    "interrupt": frozenset(),
    "body": frozenset(),
    "arena": frozenset({"body"}),
    "senses": frozenset({"body"}),
    "tasks": frozenset({"arena", "body"}),
    "env": frozenset({"arena", "body", "senses", "tasks"}),
    "brain": frozenset(),
    "driver": frozenset(),  # steps any gymnasium env with any policy: knows neither the world nor the brain
    "evaluation": WORLD | {"brain", "driver"},
    "train": WORLD | {"brain", "driver", "evaluation"},
    "viz": WORLD | {"brain", "driver", "evaluation", "train"},
    "lab": WORLD | {"brain", "driver", "evaluation", "train", "viz"},
    "bench": WORLD,  # the `embodied bench` command
    "rollout": WORLD | {"brain", "driver", "train"},  # the `embodied rollout` command
    "train_command": WORLD | {"brain", "driver", "train", "viz"},  # `embodied train`: composes training and videos
    "experiments": WORLD | {"brain", "driver", "train"},  # `embodied sweep` and `embodied report`
    "cli": frozenset(),  # routes to each command by its module name (importlib), after argv is read
}

#: arrows issue 12 forbids outright: the table above may never allow them
FORBIDDEN = frozenset(
    {("brain", part) for part in WORLD | {"evaluation", "viz", "train", "lab", "driver"}}
    | {(part, "evaluation") for part in ALLOWED if part not in PRIVILEGED_USERS}
    | {("env", "viz")}
)

#: (importing file, imported module) -> why it is still there and what removes it (docs/architecture.md)
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


# ---- the checker -----------------------------------------------------------------------------------
def part_of(module: str) -> str | None:
    """``embodied.brain.agent`` -> ``brain``; ``embodied`` -> ``embodied``; None outside the package."""
    parts = module.split(".")
    if parts[0] != "embodied":
        return None
    return parts[1] if len(parts) > 1 else "embodied"


def is_module(module: str, root: pathlib.Path = PACKAGE) -> bool:
    """Whether ``embodied.a.b`` names a module or a package (``arena/`` has no ``__init__.py``) under ``root``."""
    path = root.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path.is_dir() and any(path.glob("*.py")))


def imported_modules(source: str, relpath: str, root: pathlib.Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute module name) of every ``embodied`` import in ``source``, the file ``relpath``
    (relative to the ``embodied`` folder, e.g. ``brain/agent.py``)."""
    here = ["embodied", *pathlib.PurePosixPath(relpath).with_suffix("").parts]
    package = here[:-1]  # the package a relative import starts from (for __init__.py: its own)
    found = []
    for node in ast.walk(ast.parse(source, filename=relpath)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from ..x import y: climb level - 1 packages from this file's package
                base = package[: len(package) - node.level + 1]
                if len(base) < 1 or len(base) > len(package):
                    raise ValueError(f"{relpath}:{node.lineno}: relative import climbs above the package")
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            for alias in node.names:  # `from embodied import env` imports the module embodied.env
                candidate = f"{origin}.{alias.name}"
                found.append((node.lineno, candidate if is_module(candidate, root) else origin))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return [(line, module) for line, module in found if part_of(module) is not None]


def arrows(root: pathlib.Path = PACKAGE) -> list[tuple[str, str, str, str]]:
    """(from part, to part, 'file:line', imported module) for every import between two parts."""
    result = []
    for path in sorted(root.rglob("*.py")):
        relpath = path.relative_to(root).as_posix()
        source_part = part_of("embodied." + ".".join(pathlib.PurePosixPath(relpath).with_suffix("").parts))
        source_part = "embodied" if relpath == "__init__.py" else source_part
        for line, module in imported_modules(path.read_text(encoding="utf-8"), relpath, root):
            target = part_of(module)
            if target != source_part:
                result.append((source_part, target, f"{relpath}:{line}", module))
    return result


def violations(found, allowed=ALLOWED, exceptions=KNOWN_EXCEPTIONS) -> list[str]:
    """One line per arrow not allowed by ``allowed`` (unknown parts included), exceptions skipped."""
    lines = []
    for source, target, where, module in found:
        if (where.split(":")[0], module) in exceptions:
            continue
        if source not in allowed:
            lines.append(
                f"{where}: part {source!r} is not in the layering table (tests/test_architecture.py "
                f"ALLOWED and docs/architecture.md)"
            )
        elif target not in allowed:
            lines.append(f"{where}: imports {module}, part {target!r} is not in the layering table")
        elif not (target in allowed[source] or target in BASE):
            lines.append(
                f"{where}: {source} -> {target} ({module}) is not allowed; {source} may import "
                f"{', '.join(sorted(allowed[source])) or 'only the base'} and the base"
            )
    return lines


def cycles(edges) -> list[list[str]]:
    """The strongly connected components with more than one part (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# ---- the checker can fail ----------------------------------------------------------------------------
def test_checker_reports_a_forbidden_import_hidden_in_a_function():
    """A brain module that imports the env lazily, relatively, and the oracles by absolute name."""
    source = (
        "import numpy\n"
        "def peek(env):\n"
        "    from ..env import RodentMazeEnv\n"
        "    from .. import evaluation\n"
        "    import embodied.evaluation.oracles as oracles\n"
        "    return RodentMazeEnv\n"
    )
    found = imported_modules(source, "brain/fake_part.py")
    assert found == [(3, "embodied.env"), (4, "embodied.evaluation"), (5, "embodied.evaluation.oracles")]
    lines = violations([("brain", part_of(module), f"brain/fake_part.py:{line}", module) for line, module in found])
    assert len(lines) == 3 and "brain -> env" in lines[0] and "brain -> evaluation" in lines[2]


def test_checker_resolves_relative_imports_and_import_module():
    source = (
        "from . import senses\n"
        "from .viz.topdown import draw_topdown\n"
        "from . import ENV_ID\n"
        "import importlib\n"
        "importlib.import_module('embodied.train.loop')\n"
    )
    found = imported_modules(source, "env.py")
    assert [module for _, module in found] == [
        "embodied.senses",
        "embodied.viz.topdown",
        "embodied",
        "embodied.train.loop",
    ]
    with pytest.raises(ValueError, match="climbs above"):
        imported_modules("from .. import x\n", "env.py")
    found = imported_modules("from .base import Task\nfrom ..arena.layout import FOOD\n", "tasks/forage.py")
    assert [module for _, module in found] == ["embodied.tasks.base", "embodied.arena.layout"]
    assert imported_modules("from . import base\n", "tasks/__init__.py") == [(1, "embodied.tasks.base")]
    lines = violations([("env", "viz", "env.py:2", "embodied.viz.topdown"), ("env", "train", "env.py:5", "x")])
    assert len(lines) == 2 and "env -> viz" in lines[0]


def test_checker_reports_unknown_parts_and_cycles():
    assert "not in the layering table" in violations([("newpart", "brain", "newpart/a.py:1", "embodied.brain")])[0]
    assert cycles([("train", "viz"), ("viz", "train"), ("viz", "brain")]) == [["train", "viz"]]
    assert cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert cycles([("lab", "viz"), ("viz", "train")]) == []


# ---- the real tree ------------------------------------------------------------------------------------
def test_the_table_forbids_what_the_issue_forbids_and_has_no_cycle():
    allowed_arrows = {(a, b) for a, targets in ALLOWED.items() for b in targets}
    assert not allowed_arrows & FORBIDDEN, sorted(allowed_arrows & FORBIDDEN)
    base_arrows = {(a, b) for a in ALLOWED for b in BASE if a != b}
    assert cycles(allowed_arrows | {(a, b) for a, b in base_arrows if a not in BASE}) == []


def test_every_import_under_embodied_follows_the_layering():
    found = arrows()
    assert len(found) > 100  # the walk saw the package (about 150 arrows between parts)
    assert not violations(found), "\n".join(violations(found))


def test_no_import_cycle_between_parts():
    found = [(a, b) for a, b, where, module in arrows() if (where.split(":")[0], module) not in KNOWN_EXCEPTIONS]
    assert cycles(found) == []


def test_known_exceptions_still_exist_and_are_documented():
    """An exception that was fixed must leave the list (and the docs): the list only shrinks."""
    present = {(where.split(":")[0], module) for _, _, where, module in arrows()}
    docs = DOCS.read_text(encoding="utf-8")
    for (path, module), why in KNOWN_EXCEPTIONS.items():
        assert (path, module) in present, (
            f"{path} no longer imports {module}: remove it from KNOWN_EXCEPTIONS and from docs/architecture.md"
        )
        assert f"`{path}` → `{module}`" in docs, f"docs/architecture.md must list the exception {path} → {module}"


def test_docs_table_is_the_tested_table():
    """docs/architecture.md's layering table (| `part` | ... | may import |) says exactly ALLOWED."""
    docs = DOCS.read_text(encoding="utf-8")
    section = docs.split("## Layering", 1)[1].split("\n## ", 1)[0]
    table = {}
    for row in re.findall(r"^\| `([a-z_]+)` \|[^\n]*\| ([^|\n]*) \|$", section, flags=re.M):
        table[row[0]] = frozenset(re.findall(r"`([a-z_]+)`", row[1]))
    expected = {part: targets for part, targets in ALLOWED.items() if part not in BASE}
    assert table == expected


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_every_part_in_the_table_exists(part):
    assert part == "embodied" or is_module(f"embodied.{part}"), f"{part} in ALLOWED is not under embodied/"


# ---- inside the brain ------------------------------------------------------------------------------
BRAIN_PARTS = ("perception", "dopamine", "basal_ganglia")
#: brain-level modules every part may use (building blocks, not parts)
BRAIN_SHARED = frozenset({"nets", "device", "rng", "replay"})
#: the brain's size limits (issue 12) and what is over them today, each with what would remove it
MAX_CLASS_LINES, MAX_FUNCTION_LINES = 250, 60
KNOWN_LARGE: dict[str, str] = {
    "perception/world_model.py:WorldModel": "encoders, RSSM filtering, next-step heads, loss and checkpoint "
    "hooks in one nn.Module; splitting it changes the parameter order (and so every initial weight): "
    "do it with a checkpoint format bump",
    "perception/world_model.py:WorldModel.__init__": "builds every encoder and head in the order the weights "
    "are seeded in; same reason",
    "perception/world_model.py:WorldModel.loss": "the four loss terms of one update (reconstruction, next step, "
    "KL dyn, KL rep) in the order their formulas are documented",
    "perception/intrinsic.py:IntrinsicRewards": "three signals and their heads' training in one nn.Module; "
    "the per-signal split is the planned novelty rework (issue 15)",
}


def brain_sizes(root: pathlib.Path = PACKAGE / "brain") -> dict[str, tuple[bool, int]]:
    """``'part/file.py:Class[.method]' -> (is a class, lines)`` for every class and function under ``brain/``."""
    sizes = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text())

        def visit(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = f"{prefix}{child.name}"
                    sizes[f"{rel}:{name}"] = (isinstance(child, ast.ClassDef), child.end_lineno - child.lineno + 1)
                    visit(child, f"{name}.")

        visit(tree, "")
    return sizes


def test_the_brain_parts_import_no_other_part():
    """perception, dopamine and basal_ganglia exchange arrays through the composer (agent.py) only:
    a part may import its own package, the brain's shared building blocks and what lies outside
    the brain that the layering allows, never another part."""
    bad = []
    for part in BRAIN_PARTS:
        for path in sorted((PACKAGE / "brain" / part).rglob("*.py")):
            rel = path.relative_to(PACKAGE).as_posix()
            for line, module in imported_modules(path.read_text(), rel):
                names = module.split(".")
                if names[:2] != ["embodied", "brain"] or len(names) < 3:
                    continue
                if names[2] != part and names[2] not in BRAIN_SHARED:
                    bad.append(f"{rel}:{line}: imports {module}")
    assert not bad, "\n".join(bad)
    # the checker sees a cross-part import
    fake = "from embodied.brain.dopamine.critics import ChannelCritics\n"
    assert imported_modules(fake, "brain/perception/x.py")[0][1].startswith("embodied.brain.dopamine")


def test_no_brain_class_or_function_is_over_the_limit_unless_known():
    """No class over 250 lines, no function over 60 under brain/, except the known ones (each with
    the change that removes it); a known one that shrank below the limit must leave the list."""
    sizes = brain_sizes()
    over = {name for name, (is_class, n) in sizes.items() if n > (MAX_CLASS_LINES if is_class else MAX_FUNCTION_LINES)}
    assert over <= set(KNOWN_LARGE), f"over the size limit: {sorted(over - set(KNOWN_LARGE))}"
    assert set(KNOWN_LARGE) <= over, f"no longer over the limit, remove: {sorted(set(KNOWN_LARGE) - over)}"
    assert sizes["agent.py:Agent"] == (True, sizes["agent.py:Agent"][1]) and sizes["agent.py:Agent"][1] <= 250
