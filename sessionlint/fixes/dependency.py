"""SL001's fix: a dependency that returns its session rewritten into the reference generator.

The body comes from `sessionlint.fixes.templates` (the runtime's own source), with the
user's factory expression and variable name; statements between creating and returning the
session move before the `yield`. The return annotation becomes `Iterator[...]` /
`AsyncIterator[...]`, and the `collections.abc` import is added once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.facts import vocabulary as vocab
from sessionlint.facts.values import Kind
from sessionlint.fixes.blocks import body_indent, indent_text, line_end, line_start
from sessionlint.fixes.imports import add_import, imported_name, is_free
from sessionlint.fixes.scopes import bound_in_any, head
from sessionlint.fixes.templates import render_dependency_body
from sessionlint.project.index import Function
from sessionlint.report.diagnostics import Edit
from sessionlint.rulepass.lifetime import names_in
from sessionlint.rulepass.walk import OwnScopeVisitor, visit

if TYPE_CHECKING:
    from sessionlint.rules._base import FileContext

# Names the fix gives a session that was returned without one, in order of preference.
_SESSION_NAMES = ("session", "db")


def generator_dependency(
    context: FileContext,
    definition: cst.FunctionDef,
    function: Function,
    returned: cst.Return,
    kind: Kind,
) -> list[Edit] | None:
    """The edits turning `definition` into a generator dependency, or None when its shape
    is not simple: other `return`s or a `yield`, the `return` not the last statement, the
    session created by an `await`, or `def` / `async def` not matching the session's kind."""
    return _Rewrite(context, definition, function, returned, kind).edits()


class _Rewrite:
    def __init__(
        self,
        context: FileContext,
        definition: cst.FunctionDef,
        function: Function,
        returned: cst.Return,
        kind: Kind,
    ) -> None:
        self.context = context
        self.semantics = context.semantics
        self.definition = definition
        self.function = function
        self.returned = returned
        self.kind = kind
        self.is_async = kind.is_async
        # The classes and functions around the definition: its annotations are evaluated there.
        self.enclosing = [scope.node for scope in context.semantics.scopes if scope.node is not definition]

    def edits(self) -> list[Edit] | None:
        body = self.definition.body
        if (
            not isinstance(body, cst.IndentedBlock)
            or (self.definition.asynchronous is not None) != self.is_async
            or not _returns_last(body, self.returned)
            or not _only_return(body, self.returned)
        ):
            return None
        edit = self._body_edit(body)
        if edit is None:
            return None
        return [edit, *self._annotation_edits()]

    # -- the body -----------------------------------------------------------------------

    def _body_edit(self, body: cst.IndentedBlock) -> Edit | None:
        value = self.returned.value
        if isinstance(value, cst.Call):
            return self._from_returned_call(body, value)
        if isinstance(value, cst.Name):
            return self._from_returned_name(body, value.value)
        return None

    def _from_returned_call(self, body: cst.IndentedBlock, call: cst.Call) -> Edit | None:
        """`return SessionLocal()` -> the whole reference body, with a new session variable:
        a name the function does not mention anywhere (a `global` one would be overwritten,
        a free one read before would become unbound, a nested function's would change)."""
        taken = names_in(self.definition) | self.function.facts.local_names
        name = next((n for n in _SESSION_NAMES if n not in taken), None)
        if name is None:
            return None
        start, end = self.context.span(self.returned)
        indent = self.context.line_indent(self.returned)
        text = self._render(call, name, indent, body, keep_creation=True)
        return self.context.edit(start, end, _strip_newline(text)[len(indent) :])

    def _from_returned_name(self, body: cst.IndentedBlock, name: str) -> Edit | None:
        """`db = SessionLocal()` ... `return db` -> the reference body around the statements between."""
        statements = list(body.body)
        index = _creation_index(statements, name)
        if index is None or len(self.function.facts.locals.get(name, ())) != 1:
            return None
        creation = cst.ensure_type(statements[index], cst.SimpleStatementLine)
        call = _assigned_value(creation.body[0])
        if not isinstance(call, cst.Call) or self.semantics.created_session_kind(call) != self.kind:
            return None
        source = self.context.source
        indent = self.context.line_indent(creation)
        between = statements[index + 1 : -1]
        creation_end = self.context.span(creation)[1]
        region_start = _skip_blank_lines(source, line_end(source, creation_end))
        region_end = line_start(source, self.context.span(self.returned)[0])
        inner = indent_text(
            self.context,
            region_start,
            max(region_start, region_end),
            base=indent,
            extra=body_indent(self.context.module, body),
            nodes=between,
        )
        _, end = self.context.span(self.returned)
        if not self.is_async:
            text = self._render(call, name, indent, body, inner=inner, keep_creation=False)
            return self.context.edit(region_start, end, _strip_newline(text))
        # `async with factory() as db:` replaces the creation line; its comment stays on it.
        tail = source[creation_end : line_end(source, creation_end)].rstrip("\r\n")
        if tail.strip() and not tail.strip().startswith("#"):
            return None
        # Blank lines after the creation line stay right below it, now inside the block.
        blank = source[line_end(source, creation_end) : region_start]
        text = self._render(call, name, indent, body, inner=blank + inner, suffix=tail)
        return self.context.edit(self.context.span(creation)[0], end, _strip_newline(text)[len(indent) :])

    def _render(
        self,
        call: cst.Call,
        name: str,
        indent: str,
        body: cst.IndentedBlock,
        *,
        inner: str = "",
        keep_creation: bool = True,
        suffix: str = "",
    ) -> str:
        start, end = self.context.span(call)
        return render_dependency_body(
            is_async=self.is_async,
            factory=self.context.source[start:end],
            session=name,
            indent=indent,
            unit=body_indent(self.context.module, body),
            newline=self._newline(),
            body=inner,
            keep_creation=keep_creation,
            first_line_suffix=suffix,
        )

    def _newline(self) -> str:
        source = self.context.source
        end = line_end(source, self.context.span(self.returned)[0])
        ending = source[:end][-2:]
        if ending == "\r\n":
            return "\r\n"
        if ending[-1:] in ("\n", "\r"):
            return ending[-1]
        return self.context.module.default_newline

    # -- the return annotation ----------------------------------------------------------

    def _annotation_edits(self) -> list[Edit]:
        returns = self.definition.returns
        inner, introduced = self._yielded_type(returns)
        if inner is None:
            return []
        if returns is not None:
            location = self.context.span(returns.annotation)
            prefix = ""
        else:
            closing = self._after_parameters()
            if closing is None:
                return []
            location = (closing, closing)
            prefix = " -> "
        edits = []
        iterator_types = vocab.ASYNC_ITERATOR_TYPES if self.is_async else vocab.ITERATOR_TYPES
        iterator = imported_name(self.context, iterator_types)
        if iterator is None:
            iterator = "AsyncIterator" if self.is_async else "Iterator"
            if not is_free(self.context, iterator):
                return []
            edits.append(add_import(self.context, "collections.abc", iterator))
        # The module-level names the annotation now mentions must mean the same where it is
        # evaluated: a class attribute or an enclosing function's local of that name would win.
        if bound_in_any(self.enclosing, {head(iterator), *introduced}):
            return []
        edits.append(self.context.edit(*location, f"{prefix}{iterator}[{inner}]"))
        return edits

    def _yielded_type(self, returns: cst.Annotation | None) -> tuple[str | None, set[str]]:
        """What goes inside `Iterator[...]` (the old annotation, else the session class), and
        the names that puts in the annotation which were not there before."""
        semantics = self.semantics
        if returns is not None:
            annotation = returns.annotation
            value = semantics.value_of(annotation)
            if semantics.project.annotation_kind(value, semantics.module) == self.kind:
                start, end = self.context.span(annotation)
                return self.context.source[start:end], set()
            base = annotation.value if isinstance(annotation, cst.Subscript) else annotation
            if semantics.qualified_name(base) in vocab.GENERATOR_TYPES:
                return None, set()  # already a generator annotation: the user's choice
        classes = vocab.ASYNC_SESSION_CLASSES if self.is_async else vocab.SYNC_SESSION_CLASSES
        spelling = imported_name(self.context, classes)
        return spelling, {head(spelling)} if spelling else set()

    def _after_parameters(self) -> int | None:
        """Offset just past the `)` that closes the parameter list."""
        source = self.context.source
        offset = self.context.span(self.definition.params)[1]
        while offset < len(source):
            char = source[offset]
            if char == ")":
                return offset + 1
            if char == "#":
                offset = line_end(source, offset)
            elif char in " \t\f\r\n\\,":
                offset += 1
            else:
                return None
        return None


class _OwnScope(OwnScopeVisitor):
    """`return` statements and whether there is a `yield`, in a body's own scope."""

    def __init__(self) -> None:
        super().__init__()
        self.returns: list[cst.Return] = []
        self.yields = False

    def visit_Return(self, node: cst.Return) -> None:
        self.returns.append(node)

    def visit_Yield(self, node: cst.Yield) -> None:
        self.yields = True


def _only_return(body: cst.IndentedBlock, returned: cst.Return) -> bool:
    """`returned` is the body's only `return`, and nothing yields."""
    scope = _OwnScope()
    visit(body, scope)
    return not scope.yields and len(scope.returns) == 1 and scope.returns[0] is returned


def _returns_last(body: cst.IndentedBlock, returned: cst.Return) -> bool:
    last = body.body[-1] if body.body else None
    return isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1 and last.body[0] is returned


def _assigned_value(statement: cst.BaseSmallStatement) -> cst.BaseExpression | None:
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        return statement.value
    if isinstance(statement, cst.AnnAssign):
        return statement.value
    return None


def _assigned_name(statement: cst.BaseSmallStatement) -> str | None:
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        target = statement.targets[0].target
    elif isinstance(statement, cst.AnnAssign):
        target = statement.target
    else:
        return None
    return target.value if isinstance(target, cst.Name) else None


def _creation_index(statements: list[cst.BaseStatement], name: str) -> int | None:
    for index, statement in enumerate(statements[:-1]):
        if (
            isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1
            and _assigned_name(statement.body[0]) == name
        ):
            return index
    return None


def _skip_blank_lines(source: str, offset: int) -> int:
    while offset < len(source):
        end = line_end(source, offset)
        if source[offset:end].strip():
            break
        offset = end
    return offset


def _strip_newline(text: str) -> str:
    return text[:-2] if text.endswith("\r\n") else text.rstrip("\r\n")
