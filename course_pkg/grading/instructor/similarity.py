"""Code pasted from the book or from a classmate: flagged for the instructor, never scored.

The book prints the package's reference implementations, so a student can paste one into a
submission; the jail cannot tell that from honest work. After autograde the runner compares
every graded function of every submission (the functions the assignment's answer cells
define) with

- the reference implementation of the same name in ``course_pkg`` (any module the
  assignment's checks forbid), and
- the same function in every other submission,

except the functions still (nearly) as the release hands them out (the stubs),

on a *normalised* form: the function's syntax tree without docstrings and comments, with its
arguments and local variables renamed in order of appearance (``v0, v1, ...``), so renaming
variables or re-wrapping lines changes nothing. Two forms are compared as token sequences
(:class:`difflib.SequenceMatcher` ratio, 1.0 = identical). At or above ``threshold`` the runner
prints::

    SIMILAR rnn_bptt/mallory: rnn_step_forward matches the reference course_pkg.numpy_rnn.rnn.rnn_step_forward (1.00)

and every comparison at or above the threshold goes to ``similarity.csv`` in the course
directory. The instructor decides; the score is not changed.
"""

from __future__ import annotations

import ast
import csv
import difflib
import importlib
import inspect
import itertools
import pathlib
import pkgutil
import textwrap
from dataclasses import dataclass

import nbformat

THRESHOLD = 0.9
MIN_TOKENS = 12  # shorter functions (one-liners) are too alike by nature to be compared


@dataclass(frozen=True)
class Match:
    assignment: str
    student: str
    function: str
    other: str  # "reference <module.name>" or "student <id>"
    score: float

    def line(self) -> str:
        what = (f"the {self.other}" if self.other.startswith("reference")
                else f"the submission of {self.other.split(' ', 1)[1]}")
        return (f"SIMILAR {self.assignment}/{self.student}: {self.function} matches {what} "
                f"({self.score:.2f})")


class _Normaliser(ast.NodeTransformer):
    """Arguments and local names renamed in order of appearance; docstrings dropped."""

    def __init__(self, local_names: set[str]) -> None:
        self.local_names = local_names
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name not in self.local_names:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._rename(node.id)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant) and isinstance(
                body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        node.name = "f"
        node.returns = None
        self.generic_visit(node)
        return node


def normalised_tokens(function: ast.FunctionDef) -> list[str]:
    """The function's normalised syntax tree, as a list of tokens."""
    local_names = {a.arg for a in ast.walk(function) if isinstance(a, ast.arg)}
    local_names |= {n.id for n in ast.walk(function)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    tree = _Normaliser(local_names).visit(ast.parse(ast.unparse(function)).body[0])
    dump = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return dump.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()


def functions_in(source: str) -> dict[str, ast.FunctionDef]:
    """The top-level functions a source defines (the last definition of a name wins)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def graded_functions(source_notebook: pathlib.Path) -> list[str]:
    """The functions the assignment's answer cells define, in the source notebook."""
    notebook = nbformat.read(source_notebook, as_version=4)
    names: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            names += [n for n in functions_in(cell.source) if n not in names]
    return names


def reference_functions(modules: list[str], names: list[str]) -> dict[str, tuple[str, ast.FunctionDef]]:
    """For each name, a function of that name in the modules (or their submodules)."""
    found: dict[str, tuple[str, ast.FunctionDef]] = {}
    queue = list(modules)
    seen: set[str] = set()
    while queue:
        module_name = queue.pop(0)
        if module_name in seen:
            continue
        seen.add(module_name)
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 (a module that does not import is skipped)
            continue
        if hasattr(module, "__path__"):
            queue += [f"{module_name}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            continue
        for name, node in functions_in(textwrap.dedent(source)).items():
            if name in names and name not in found:
                found[name] = (f"{module_name}.{name}", node)
    return found


def submission_functions(course: pathlib.Path, assignment: str, student: str
                         ) -> dict[str, ast.FunctionDef]:
    functions: dict[str, ast.FunctionDef] = {}
    for path in sorted((course / "submitted" / student / assignment).glob("*.ipynb")):
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 (an unreadable notebook has nothing to compare)
            continue
        for cell in notebook.cells:
            if cell.cell_type == "code":
                functions.update(functions_in(cell.source))
    return functions


def _ratio(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


class _Scores:
    """The ratio of two token lists, computed once per distinct pair of lists: a class hands in
    many identical functions (the same solution, the same pasted code), and comparing every
    pair afresh is quadratic in the class twice over (measured: minutes for 200 submissions).
    Below ``threshold`` the cheap upper bounds of difflib (``real_quick_ratio``, then
    ``quick_ratio``) settle most pairs without the full ratio; such a pair reports its bound,
    which is below the threshold too, so it is never a match."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.memo: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}

    def __call__(self, a: list[str], b: list[str]) -> float:
        key = (tuple(a), tuple(b)) if a <= b else (tuple(b), tuple(a))
        if key not in self.memo:
            if key[0] == key[1]:
                self.memo[key] = 1.0
            else:
                matcher = difflib.SequenceMatcher(None, key[0], key[1], autojunk=False)
                bound = matcher.real_quick_ratio()
                if bound >= self.threshold:
                    bound = matcher.quick_ratio()
                self.memo[key] = matcher.ratio() if bound >= self.threshold else bound
        return self.memo[key]


def compare(course: pathlib.Path, assignment: str, students: list[str], hidden: list[str],
            threshold: float = THRESHOLD) -> list[Match]:
    """Every graded function at or above ``threshold`` against the reference or a classmate."""
    names = []
    for notebook in sorted((course / "source" / assignment).glob("*.ipynb")):
        names += graded_functions(notebook)
    references = {name: (where, normalised_tokens(node))
                  for name, (where, node) in reference_functions(hidden, names).items()}
    stubs: dict[str, list[str]] = {}  # the release's own stubs: alike in every submission
    for notebook in sorted((course / "release" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "code":
                stubs.update({n: normalised_tokens(f) for n, f in functions_in(cell.source).items()
                              if n in names})
    tokens = {student: {name: normalised_tokens(node) for name, node in
                        submission_functions(course, assignment, student).items()
                        if name in names and not (name in stubs and _ratio(
                            normalised_tokens(node), stubs[name]) >= threshold)}
              for student in students}
    matches = []
    score_of = _Scores(threshold)
    for student in students:
        for name, mine in tokens[student].items():
            if len(mine) < MIN_TOKENS:
                continue
            if name in references:
                where, reference = references[name]
                score = score_of(mine, reference)
                if score >= threshold:
                    matches.append(Match(assignment, student, name, f"reference {where}", score))
    for first, second in itertools.combinations(students, 2):
        for name in names:
            a, b = tokens[first].get(name), tokens[second].get(name)
            if a is None or b is None or min(len(a), len(b)) < MIN_TOKENS:
                continue
            score = score_of(a, b)
            if score >= threshold:
                matches.append(Match(assignment, first, name, f"student {second}", score))
                matches.append(Match(assignment, second, name, f"student {first}", score))
    return sorted(matches, key=lambda m: (m.student, m.function, m.other))


def write_csv(path: pathlib.Path, matches: list[Match]) -> None:
    """``similarity.csv``: assignment, student, function, matches, score (one row a match)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student", "function", "matches", "score"])
        for match in matches:
            writer.writerow([match.assignment, match.student, match.function, match.other,
                             f"{match.score:.3f}"])


def update_csv(path: pathlib.Path, assignment: str, matches: list[Match]) -> None:
    """Replace ``assignment``'s rows of the CSV at ``path`` by ``matches`` (other rows stay)."""
    kept: list[Match] = []
    if path.exists():
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("assignment") != assignment:
                    kept.append(Match(row["assignment"], row["student"], row["function"],
                                      row["matches"], float(row["score"])))
    write_csv(path, kept + matches)
