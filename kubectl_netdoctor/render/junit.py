"""``-o junit``: JUnit XML for CI systems, one ``<testcase>`` per Service.

The document follows the JUnit shape that Jenkins, GitLab, GitHub test reporters and
Azure DevOps read (the Jenkins xUnit plugin's ``junit-10.xsd``)::

    <testsuites name="kubectl-netdoctor" tests failures errors time>
      <testsuite name="kubectl-netdoctor NS" tests failures errors skipped time timestamp>
        <properties><property name="source" value="..."/> ...</properties>
        <testcase classname="NS" name="SERVICE" time="1.234">
          <failure type="CODE" message="broken hop ...">the findings, their evidence and fixes</failure>
          <system-out>the step table</system-out>
        </testcase>

* verdict ``problem`` -> ``<failure>``: its ``type`` is the cause's code (the finding to fix first,
  :attr:`~kubectl_netdoctor.model.Report.cause`), its ``message`` names the broken hop and the cause,
  its text is the full text report (plain, at :data:`~kubectl_netdoctor.render.text.PIPE_WIDTH` columns,
  each command whole on lines of its own).
* verdict ``inconclusive`` -> ``<error>``: the Service could not be diagnosed, which a CI gate
  must not count as a pass. Its text names every blocked step and why.
* verdict ``ok`` -> a passing testcase; warnings and notes go to ``<system-out>``.

One ``<testsuite>`` per namespace, so a CI report groups the Services as ``kubectl get`` does.

The document is valid UTF-8 whatever the locale: it is written as ASCII, every other character as a
character reference, so no stream encoding can change or refuse it. Text from the cluster in names
and messages has its control characters spelled out (:func:`~kubectl_netdoctor.render.safe.printable`),
and lone surrogates become U+FFFD: nothing in it is a character XML 1.0 forbids.
"""

from __future__ import annotations

import datetime
import re
import socket
import xml.etree.ElementTree as ET
from typing import TextIO

from kubectl_netdoctor.model import Finding, Report, ScannedService, ScanReport, Status, Verdict
from kubectl_netdoctor.render.safe import printable, valid_unicode
from kubectl_netdoctor.render.text import render_plain

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry at all, not even escaped: the last guard, after :func:`printable`."""


def _clean(text: str) -> str:
    """Body text: valid Unicode, and nothing XML 1.0 forbids (newlines and tabs stay)."""
    return _XML_INVALID.sub("?", valid_unicode(text))


def _attr(text: str) -> str:
    """An attribute value from the cluster (a namespace, a name, a message): one line, control
    characters spelled out, valid Unicode."""
    return _clean(printable(text))


def _time(seconds: float) -> str:
    """Seconds with millisecond precision, the form junit-10.xsd's SUREFIRE_TIME accepts (no exponent)."""
    return f"{max(seconds, 0.0):.3f}"


def failure_message(report: Report, top: Finding | None = None) -> str:
    """One line: what CI lists next to the failed test. The broken hop, then the cause (the finding to
    fix first) with its step and message; ``top`` stands in for the cause where a report has none."""
    broken = report.broken_step
    where = f"broken hop: {broken.id} ({broken.title})" if broken else "problem"
    located = report.located_cause()
    if located is not None:
        step, cause = located
        return f"{where}; cause: {cause.code} [{step.id}]: {cause.message}"
    return f"{where}: {top.code}: {top.message}" if top else where


def blocked_message(report: Report) -> str:
    blocked = [s for s in report.steps if s.status is Status.SKIP and s.blocked]
    return "could not diagnose: " + "; ".join(f"{s.id}: {s.skip_reason}" for s in blocked)


def testcase(entry: ScannedService) -> ET.Element:
    report = entry.report
    case = ET.Element("testcase", {"classname": _attr(report.namespace), "name": _attr(report.label),
                                   "time": _time(entry.elapsed_s)})
    verdict = report.verdict
    full = _clean(render_plain(report))
    if verdict is Verdict.PROBLEM:
        top = entry.top_finding
        failure = ET.SubElement(case, "failure", {"type": _attr(top.code) if top else "problem",
                                                  "message": _attr(failure_message(report, top))})
        failure.text = full
    elif verdict is Verdict.INCONCLUSIVE:
        error = ET.SubElement(case, "error", {"type": "inconclusive", "message": _attr(blocked_message(report))})
        error.text = full
    else:
        out = ET.SubElement(case, "system-out")
        out.text = full
    return case


def document(entries: list[ScannedService] | tuple[ScannedService, ...], source: str,
             elapsed_s: float | None = None, timestamp: datetime.datetime | None = None) -> ET.Element:
    stamp = (timestamp or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    by_ns: dict[str, list[ScannedService]] = {}
    for e in entries:
        by_ns.setdefault(e.report.namespace, []).append(e)
    total_time = elapsed_s if elapsed_s is not None else sum(e.elapsed_s for e in entries)
    root = ET.Element("testsuites", {
        "name": "kubectl-netdoctor",
        "tests": str(len(entries)),
        "failures": str(sum(e.report.verdict is Verdict.PROBLEM for e in entries)),
        "errors": str(sum(e.report.verdict is Verdict.INCONCLUSIVE for e in entries)),
        "time": _time(total_time),
    })
    host = socket.gethostname()
    for ns, group in sorted(by_ns.items()):
        suite = ET.SubElement(root, "testsuite", {
            "name": _attr(f"kubectl-netdoctor {ns}"),
            "tests": str(len(group)),
            "failures": str(sum(e.report.verdict is Verdict.PROBLEM for e in group)),
            "errors": str(sum(e.report.verdict is Verdict.INCONCLUSIVE for e in group)),
            "skipped": "0",
            "time": _time(sum(e.elapsed_s for e in group)),
            "timestamp": stamp,
            "hostname": _attr(host),
            "package": _attr(ns),
        })
        props = ET.SubElement(suite, "properties")
        clients = sorted({e.report.client for e in group if e.report.client})
        for name, value in [("source", source), *(("client", c) for c in clients)]:
            ET.SubElement(props, "property", {"name": name, "value": _attr(value)})
        for e in group:
            suite.append(testcase(e))
    return root


def dumps(entries: list[ScannedService] | tuple[ScannedService, ...], source: str,
          elapsed_s: float | None = None, timestamp: datetime.datetime | None = None) -> str:
    return _serialised(document(entries, source, elapsed_s, timestamp))


def _serialised(root: ET.Element) -> str:
    """ASCII, with a character reference for everything else: UTF-8 as declared, in any locale."""
    ET.indent(root)
    body = ET.tostring(root, encoding="us-ascii", xml_declaration=False).decode("ascii")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def error_dumps(command: str, message: str, exit_code: int) -> str:
    """The document of a run that ended before any target was diagnosed (no cluster access, a usage
    error): one testcase with an ``<error>``, so that a CI gate reading the file fails, and says why,
    instead of finding no results."""
    root = ET.Element("testsuites", {"name": "kubectl-netdoctor", "tests": "1", "failures": "0", "errors": "1",
                                     "time": _time(0.0)})
    suite = ET.SubElement(root, "testsuite", {
        "name": "kubectl-netdoctor", "tests": "1", "failures": "0", "errors": "1", "skipped": "0",
        "time": _time(0.0),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": _attr(socket.gethostname()), "package": "kubectl-netdoctor"})
    case = ET.SubElement(suite, "testcase", {"classname": "kubectl-netdoctor", "name": _attr(command),
                                             "time": _time(0.0)})
    error = ET.SubElement(case, "error", {"type": f"exit {exit_code}", "message": _attr(message)})
    error.text = _clean(f"kubectl netdoctor {command} ended with exit code {exit_code}: {message}\n")
    return _serialised(root)


def render(report: Report, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    """``svc -o junit``: a document with the one Service. Every finding is in it; ``verbose`` changes nothing."""
    stream.write(dumps([ScannedService(report, elapsed_s)], report.source, elapsed_s))


def render_scan(scan: ScanReport, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
                width: int | None = None) -> None:
    stream.write(dumps(scan.services, scan.source, scan.elapsed_s))
