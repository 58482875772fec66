"""Deeply nested input: room to parse and walk it, and bounds that keep LibCST from crashing.

LibCST's parser is native code that recurses once per nesting level on the C stack: on the
main thread's 8 MB it overflows (a segmentation fault that takes the whole run down, not an
exception) at a few thousand levels, fewer than CPython itself accepts for some shapes (a
chain of `and`s is flat to CPython, one level per operator to LibCST). Walking such trees in
Python needs more than the default recursion limit of 1000 frames, too. So the per-file work
runs on one worker thread with a large stack and a raised recursion limit (`deep_stack`), and
files whose nesting would still be too much for LibCST are reported as SL000 before it sees
them (`flat_chains_too_long`, `token_nesting_bound`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import itertools
import os
import queue
import re
import sys
import threading
import tokenize
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

# Virtual memory, committed only as deep input actually uses it.
STACK_SIZES = (512 << 20, 128 << 20, 32 << 20)
# Python frames allowed on that stack: far below what 512 MB holds (a frame costs well under
# 4 KB of C stack), far above what real code needs (thousands of levels).
DEEP_RECURSION_LIMIT = 30_000
# LibCST nests one level per `and` / `or` operator and per implicitly concatenated string.
MAX_FLAT_CHAIN = 5_000
# Upper bound of LibCST nesting (see `token_nesting_bound`) accepted for files that only
# LibCST can parse; CPython itself refuses more than 200 nested brackets.
MAX_TOKEN_NESTING = 2_000
TOO_DEEP = "file is too deeply nested to check"

Result = TypeVar("Result")

_local = threading.local()
_Jobs = queue.SimpleQueue  # of (job, result box, done event), or None: stop
_jobs: _Jobs[tuple[Callable[[], Any], list[Any], threading.Event] | None] | None = None
_thread: threading.Thread | None = None
_owner_pid = -1
_start_lock = threading.Lock()


def deep_stack(function: Callable[..., Result]) -> Callable[..., Result]:
    """Run `function` on the big-stack worker thread (directly when already on it)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        if getattr(_local, "deep", False):
            return function(*args, **kwargs)
        jobs = _worker()
        if jobs is None:  # no thread could be started: the caller's stack will have to do
            return function(*args, **kwargs)
        box: list[Any] = []
        done = threading.Event()
        jobs.put((functools.partial(function, *args, **kwargs), box, done))
        done.wait()
        ok, value = box
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    return wrapper


def _worker() -> _Jobs[tuple[Callable[[], Any], list[Any], threading.Event] | None] | None:
    global _jobs, _thread, _owner_pid
    with _start_lock:
        if _jobs is not None and _owner_pid == os.getpid():
            return _jobs
        # First use, or after a fork (threads do not survive it): start one.
        jobs: _Jobs[tuple[Callable[[], Any], list[Any], threading.Event] | None] = queue.SimpleQueue()
        for size in STACK_SIZES:
            try:
                previous = threading.stack_size(size)
            except (ValueError, RuntimeError):
                continue
            try:
                thread = threading.Thread(target=_serve, args=(jobs,), name="sessionlint-deep", daemon=True)
                thread.start()
            except RuntimeError:
                continue
            finally:
                threading.stack_size(previous)
            _jobs, _thread, _owner_pid = jobs, thread, os.getpid()
            return jobs
        return None


def _stop_before_fork() -> None:
    """Workers are forked (`parallel.py`): the idle worker thread is stopped first, so the
    parent forks with one thread (Python 3.12+ warns otherwise) and nothing a thread held
    is inherited half-way. The next deep call, in parent or child, starts a new one."""
    global _jobs, _thread
    thread, jobs = _thread, _jobs
    if thread is None or jobs is None or _owner_pid != os.getpid() or thread is threading.current_thread():
        return
    jobs.put(None)
    thread.join(timeout=10)
    _jobs = _thread = None


def _after_fork_in_child() -> None:
    global _start_lock
    _start_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_stop_before_fork, after_in_child=_after_fork_in_child)


def _serve(jobs: _Jobs[tuple[Callable[[], Any], list[Any], threading.Event] | None]) -> None:
    _local.deep = True
    while True:
        item = jobs.get()
        if item is None:
            return
        job, box, done = item
        outer = sys.getrecursionlimit()
        _local.outer_limit = outer
        try:
            sys.setrecursionlimit(max(outer, DEEP_RECURSION_LIMIT))
            box[:] = [True, job()]
        except BaseException as error:  # handed to the caller, who re-raises it
            box[:] = [False, error]
        finally:
            sys.setrecursionlimit(outer)
            done.set()


@contextlib.contextmanager
def parsing_as_cpython() -> Iterator[None]:
    """For `ast.parse`: the interpreter's own recursion limit (its depth check scales with
    the limit; at the default it refuses exactly what CPython refuses to compile), and no
    warnings (a `SyntaxWarning` about the user's code is not ours to print, and under
    `-W error` it would turn into a SyntaxError)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outer = getattr(_local, "outer_limit", None)
        if outer is None or not getattr(_local, "deep", False):
            yield
            return
        raised = sys.getrecursionlimit()
        sys.setrecursionlimit(outer)
        try:
            yield
        finally:
            sys.setrecursionlimit(raised)


def is_nesting_limit(error: BaseException) -> bool:
    """`ast.parse` gave up on depth (a limit of every CPython, not syntax it does not know)."""
    if isinstance(error, (RecursionError, MemoryError)):
        return True
    message = str(getattr(error, "msg", "") or error)
    return (
        "too many nested parentheses" in message
        or "too many levels of indentation" in message
        or ("too complex" in message)
    )


_BOOLEAN_WORD = re.compile(rb"\b(?:and|or)\b")


def flat_chains_too_long(data: bytes, tree: ast.AST | None = None) -> bool:
    """An `and` / `or` chain longer than LibCST can nest (CPython keeps it flat).

    Counting the words in the bytes is a cheap upper bound; only when it is exceeded is the
    tree measured (`tree`, or the source parsed again).
    """
    if len(_BOOLEAN_WORD.findall(data)) <= MAX_FLAT_CHAIN:
        return False
    if tree is None:
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False  # not this check's business: the parse error is reported elsewhere
    return any(isinstance(node, ast.BoolOp) and len(node.values) > MAX_FLAT_CHAIN for node in ast.walk(tree))


_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_NESTING_KEYWORDS = frozenset(
    {"and", "or", "not", "lambda", "if", "else", "await", "yield", "in", "is", "for", "async", "from"}
)


def token_nesting_bound(text: str) -> int:
    """An upper bound of the nesting LibCST would build for `text`, from its tokens.

    For a file `ast` cannot parse (newer syntax), before LibCST tries: within a statement,
    every bracket and every operator, keyword or string not separated from the next by a
    comma may add a level; blocks add one per indentation level, `elif` one per branch.
    Where the text stops tokenizing (an unclosed bracket), the bound covers what came
    before: that is all LibCST reads before it fails too.
    """
    levels = [0]  # nesting-capable tokens since the last comma, per open bracket
    running = best_line = 0
    indent = best_indent = 0
    elif_chains: dict[int, int] = {}
    best_elif = 0
    line_start = True
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, string = token.type, token.string
            if kind in (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING):
                continue
            if kind == tokenize.NEWLINE:
                levels, running, line_start = [0], 0, True
                continue
            if kind == tokenize.INDENT:
                indent += 1
                best_indent = max(best_indent, indent)
                continue
            if kind == tokenize.DEDENT:
                indent -= 1
                continue
            if line_start:
                line_start = False
                if kind == tokenize.NAME and string == "elif":
                    elif_chains[indent] = elif_chains.get(indent, 0) + 1
                    best_elif = max(best_elif, elif_chains[indent])
                elif not (kind == tokenize.NAME and string == "else"):
                    elif_chains = {k: v for k, v in elif_chains.items() if k < indent}
            if kind == tokenize.OP and string in _OPEN:
                levels.append(0)
                running += 1
            elif kind == tokenize.OP and string in _CLOSE:
                if len(levels) > 1:
                    running -= 1 + levels.pop()
            elif kind == tokenize.OP and string in (",", ";"):
                running -= levels[-1]
                levels[-1] = 0
            elif kind in (tokenize.OP, tokenize.STRING) or (
                kind == tokenize.NAME and string in _NESTING_KEYWORDS
            ):
                levels[-1] += 1
                running += 1
            best_line = max(best_line, running)
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return best_line + 3 * best_indent + best_elif


# -- size: what one file may cost in memory ---------------------------------------------------

# LibCST holds about 2 KB per token (1.4 KB on short lines, more on long ones): 250 000
# tokens (some 25 000 lines of dense code) stay well under 1 GB for the whole run. The
# limit is counted in tokens, not bytes: a 4 MB string literal is one token and cheap, a
# 2 MB one-line list of numbers is 700 000 tokens and took 4 GB.
DEFAULT_MAX_TOKENS = 250_000
MAX_TOKENS_VARIABLE = "SESSIONLINT_MAX_TOKENS"
# Every character that can start a token is a word or a punctuation byte; tokens that
# start at none (NEWLINE, NL, INDENT, DEDENT) are at most three per line.
_TOKEN_START = re.compile(rb"\w+|[^\w\s]")


def max_tokens() -> int:
    """The limit: `SESSIONLINT_MAX_TOKENS` when set to a positive number, else the default."""
    value = os.environ.get(MAX_TOKENS_VARIABLE, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_TOKENS


def too_many_tokens(data: bytes, text: str, limit: int) -> bool:
    """More than `limit` tokens in the file, told without building anything big: the
    length bounds the count (every token but three per line takes a character), then a
    count of token-starting runs of bytes (a string counts each word in it), and only
    where that is over the limit, the tokens themselves, counted up to the limit."""
    lines = data.count(b"\n") + 1
    if len(data) + 3 * lines <= limit:
        return False
    # Counted one match at a time (a list of them took 1.8 GB on 20 MB), up to the limit.
    room = limit - 3 * lines
    if room >= 0 and sum(1 for _ in itertools.islice(_TOKEN_START.finditer(data), room + 1)) <= room:
        return False
    count = 0
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            count += 1
            if count > limit:
                return True
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # past the limit it would have said so: the parse reports the error
    return False
