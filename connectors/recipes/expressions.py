"""The expression escape hatch: a safe Python subset, checked node by node and translated to Python source.

``record.a.b`` (and ``root.…``, ``value.…``) become path lookups that give ``None`` when something is
missing; operators and functions become calls into ``connectors.recipes.functions``. Anything outside
the whitelist (dunders, lambdas, comprehensions, method calls, f-strings, unknown names) is a problem
reported when the recipe is validated, so nothing unchecked ever reaches ``compile()``.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from dataclasses import dataclass

from connectors.recipes.functions import FUNCTIONS

MAX_LENGTH = 2000
BASES = ("record", "root", "value")

PathKey = str | int
Resolver = Callable[[str, tuple[PathKey, ...]], str]
"""(base name, path) → Python source giving the value there; the compiler hoists record paths to locals."""

_BINARY = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
}
_COMPARE = {
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.In: "in",
    ast.NotIn: "not_in",
}
_FORBIDDEN_NAMES = {
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed; use concat()",
    ast.NamedExpr: "assignments are not allowed",
    ast.Starred: "* arguments are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Await: "await is not allowed",
}


class ExpressionError(ValueError):
    """Why an expression is refused; ``reasons`` lists every problem found in it."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class Expression:
    """A checked expression: its text and whether it reads ``value`` (the rule's ``from`` value)."""

    text: str
    tree: ast.Expression
    uses_value: bool

    def translate(self, resolve: Resolver) -> str:
        """Python source for this expression; record, root and value paths come from ``resolve``."""
        translated = _Translator(resolve).visit(copy.deepcopy(self.tree))
        return ast.unparse(translated)

    def paths(self) -> list[tuple[str, tuple[PathKey, ...]]]:
        """Every (base, path) the expression reads, so the compiler can look them up once."""
        found: list[tuple[str, tuple[PathKey, ...]]] = []

        def record_path(base: str, keys: tuple[PathKey, ...]) -> str:
            found.append((base, keys))
            return "None"

        self.translate(record_path)
        return found


def parse_expression(text: object, *, allow_value: bool) -> Expression:
    """Check ``text`` against the whitelist; raises ``ExpressionError`` listing everything wrong."""
    if not isinstance(text, str):
        raise ExpressionError(["must be an expression (text)"])
    if len(text) > MAX_LENGTH:
        raise ExpressionError([f"longer than {MAX_LENGTH} characters"])
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError([f"not a valid expression: {error.msg}"]) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(["not a valid expression: too deeply nested"]) from None
    checker = _Checker(allow_value=allow_value)
    try:
        checker.visit(tree)
    except RecursionError:
        raise ExpressionError(["too deeply nested"]) from None
    if checker.reasons:
        raise ExpressionError(list(dict.fromkeys(checker.reasons)))
    return Expression(text=text, tree=tree, uses_value=checker.uses_value)


class _Checker(ast.NodeVisitor):
    """Collects a reason for every node outside the whitelist."""

    def __init__(self, *, allow_value: bool) -> None:
        self.allow_value = allow_value
        self.uses_value = False
        self.reasons: list[str] = []

    def visit(self, node: ast.AST) -> None:
        # operator and context nodes carry no values; their parents decide whether they are allowed
        if not isinstance(node, ast.operator | ast.boolop | ast.unaryop | ast.cmpop | ast.expr_context):
            super().visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        reason = _FORBIDDEN_NAMES.get(type(node))
        if reason is None:
            reason = f"{type(node).__name__} is not allowed in expressions"
        self.reasons.append(reason)

    def _children(self, node: ast.AST) -> None:
        super().generic_visit(node)

    def visit_Expression(self, node: ast.Expression) -> None:
        self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> None:
        if node.value is not None and not isinstance(node.value, str | int | float | bool):
            self.reasons.append(f"constant {node.value!r} is not allowed")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            self.reasons.append(f"dunder names are not allowed ({node.id})")
        elif node.id == "value":
            self.uses_value = True
            if not self.allow_value:
                self.reasons.append("value is only defined in a rule with from")
        elif node.id in FUNCTIONS:
            self.reasons.append(f"{node.id} is a function: call it, as {node.id}(...)")
        elif node.id not in BASES:
            self.reasons.append(f"unknown name {node.id!r}; read input as record.{node.id}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.reasons.append(f"attributes starting with '_' are not allowed ({node.attr})")
            return
        if _path_of(node) is None:
            self.reasons.append("attributes can only be read from record, root or value")
            return
        self._children(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.slice, ast.Slice):
            self.reasons.append("slices are not allowed")
            return
        self._children(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            self.reasons.append("method calls are not allowed; use a function, e.g. upper(record.x)")
            return
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "this"
            self.reasons.append(f"cannot call {name}; functions: {', '.join(sorted(FUNCTIONS))}")
            return
        if node.keywords:
            self.reasons.append(f"{node.func.id}() takes no keyword arguments")
        _, least, most = FUNCTIONS[node.func.id]
        count = len(node.args)
        if count < least or (most is not None and count > most):
            expected = (
                str(least) if least == most else f"{least} or more" if most is None else f"{least}–{most}"
            )
            self.reasons.append(f"{node.func.id}() takes {expected} arguments, got {count}")
        for argument in node.args:
            self.visit(argument)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) not in _BINARY:
            self.reasons.append(f"operator {type(node.op).__name__} is not allowed")
        self._children(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Invert):
            self.reasons.append("operator ~ is not allowed")
        self._children(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    self.reasons.append("'is' only compares with None")
            elif type(op) not in _COMPARE:
                self.reasons.append(f"comparison {type(op).__name__} is not allowed")
        self._children(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self._children(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._children(node)

    def visit_List(self, node: ast.List) -> None:
        self._children(node)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        self._children(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            self.reasons.append("** in objects is not allowed")
            return
        self._children(node)


def _path_of(node: ast.expr) -> tuple[str, tuple[PathKey, ...]] | None:
    """``record.a[0].b`` → ("record", ("a", 0, "b")); ``None`` unless rooted at a base with constant keys."""
    keys: list[PathKey] = []
    while True:
        if isinstance(node, ast.Attribute):
            keys.append(node.attr)
            node = node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str | int)
            and not isinstance(node.slice.value, bool)
        ):
            keys.append(node.slice.value)
            node = node.value
        elif isinstance(node, ast.Name) and node.id in BASES:
            return node.id, tuple(reversed(keys))
        else:
            return None


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


class _Translator(ast.NodeTransformer):
    """Rewrites a checked tree: paths to resolver source, operators and functions to runtime calls."""

    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve

    def _path(self, node: ast.expr) -> ast.expr | None:
        found = _path_of(node)
        if found is None:
            return None
        source = self.resolve(*found)
        return ast.parse(source, mode="eval").body

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._path(node) or node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        resolved = self._path(node)
        assert resolved is not None  # the checker allows attributes on paths only
        return resolved

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        resolved = self._path(node)
        if resolved is not None:
            return resolved
        return _call("_op_item", self.visit(node.value), self.visit(node.slice))

    def visit_Call(self, node: ast.Call) -> ast.expr:
        assert isinstance(node.func, ast.Name)
        return _call(f"_fn_{node.func.id}", *(self.visit(arg) for arg in node.args))

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        return _call(f"_op_{_BINARY[type(node.op)]}", self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(op=ast.Not(), operand=operand)
        return _call("_op_neg" if isinstance(node.op, ast.USub) else "_op_pos", operand)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        # a < b < c becomes lt(a, b) and lt(b, c); operands are pure, so evaluating b twice is harmless
        parts: list[ast.expr] = []
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if isinstance(op, ast.Is | ast.IsNot):
                parts.append(ast.Compare(left=left, ops=[op], comparators=[right]))
            else:
                parts.append(_call(f"_op_{_COMPARE[type(op)]}", left, right))
            left = right
        return parts[0] if len(parts) == 1 else ast.BoolOp(op=ast.And(), values=parts)
