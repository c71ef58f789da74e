"""Run All on a notebook whose exercises are not done yet: the run goes on.

A fresh notebook's exercises are stubs (``raise NotImplementedError()``). Without help, Run All
stops at the first cell that calls one, and every figure and experiment below it stays empty.
``enable()`` (called in each notebook's setup cell) changes that, in IPython only:

* a cell that calls an unfinished exercise says so (``⏭ skipped: this cell needs your
  dense_layer, not attempted yet``) instead of raising, and the run goes on;
* a later cell that needs a name the skipped cell would have defined says that too;
* everything else is untouched: a wrong answer still fails loudly (a check raises
  ``CheckFailed``), any other error still stops the run, and nothing changes while grading.

It works by an AST transformer: each cell runs inside ``try/except``, its last expression is
still displayed as IPython would display it.
"""

from __future__ import annotations

import ast
from typing import Any

_HOOK = "__coursekit_runall__"


def _assigned(tree: ast.Module) -> set[str]:
    """Top-level names a cell binds (assignments, defs, classes, imports, loop targets)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    names.add(target.id)
    return names


class _Guard(ast.NodeTransformer):
    """Wrap a cell: ``try: <cell> except NotImplementedError/NameError: <report>``."""

    def visit_Module(self, tree: ast.Module) -> ast.Module:
        if not tree.body or any(isinstance(n, ast.Global | ast.Nonlocal) for n in ast.walk(tree)):
            return tree
        body = list(tree.body)
        if isinstance(body[-1], ast.Expr):  # keep displaying the last expression's value
            body[-1] = ast.Expr(ast.Call(
                func=ast.Attribute(ast.Name(_HOOK, ast.Load()), "display", ast.Load()),
                args=[body[-1].value], keywords=[]))
        names = ast.List([ast.Constant(n) for n in sorted(_assigned(tree))], ast.Load())
        handler = ast.ExceptHandler(
            type=ast.Tuple([ast.Name("NotImplementedError", ast.Load()),
                            ast.Name("NameError", ast.Load())], ast.Load()),
            name="__coursekit_error__",
            body=[ast.Expr(ast.Call(
                func=ast.Attribute(ast.Name(_HOOK, ast.Load()), "skipped", ast.Load()),
                args=[ast.Name("__coursekit_error__", ast.Load()), names], keywords=[]))])
        wrapped = ast.Try(body=body, handlers=[handler], orelse=[], finalbody=[])
        return ast.fix_missing_locations(ast.Module(body=[wrapped], type_ignores=[]))


def _is_stub_error(exc: BaseException) -> str:
    """The function name if ``exc`` was raised by a stub defined in the notebook, else ""."""
    tb, name, last_in_cell = exc.__traceback__, "", False
    while tb is not None:
        code = tb.tb_frame.f_code
        in_cell = code.co_filename.startswith("<") or "ipykernel_" in code.co_filename
        qualname = getattr(code, "co_qualname", code.co_name)  # "SGD.update" for a method
        name = qualname if in_cell and code.co_name != "<module>" else name
        last_in_cell = in_cell
        tb = tb.tb_next
    return name if isinstance(exc, NotImplementedError) and last_in_cell else ""


def _close_figures() -> None:
    """Close matplotlib's open figures, if matplotlib is in use. The inline backend closes each
    cell's figures once it has shown them, so the open ones are the skipped cell's own."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


class _RunAll:
    """What the transformed cells call: display the last value, or report a skipped cell."""

    def __init__(self, shell: Any):
        self.shell = shell
        self.pending: dict[str, str] = {}  # name a skipped cell would have defined -> why

    def display(self, value: Any) -> None:
        self.shell.displayhook(value)

    def skipped(self, exc: BaseException, names: list[str]) -> None:
        stub = _is_stub_error(exc)
        if stub:
            why = f"your {stub}, not attempted yet"
        elif isinstance(exc, NameError) and getattr(exc, "name", None) in self.pending:
            why = self.pending[exc.name]
        else:
            raise exc  # a real error: the run stops there, as it always did
        for name in names:
            self.pending[name] = why
        _close_figures()  # a plot half drawn before the error would be shown as if it were the result
        print(f"⏭ skipped: this cell needs {why}. Finish it above, run it, then run this "
              "cell again.")


def enable() -> bool:
    """Let Run All go on past unfinished exercises (see the module docstring). Returns whether
    it is on: only in IPython, and never while grading."""
    from coursekit.checks.core import grading

    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if grading() or shell is None:
        return False
    if not any(isinstance(t, _Guard) for t in shell.ast_transformers):
        shell.user_ns[_HOOK] = _RunAll(shell)
        shell.ast_transformers.append(_Guard())
    return True
