"""Parse what the probe's shell tools print (busybox nc, wget, nslookup, /etc/resolv.conf).

Pure functions: the probe runs one small script per batch and these turn its
output into facts. Each batch line is ``KIND|field|field...`` so that concurrent
background jobs cannot interleave inside a record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TcpResult:
    host: str
    port: int
    ok: bool
    outcome: str
    """``open``, ``refused``, ``timeout``, ``unreachable`` or ``error``."""
    latency_ms: float | None
    detail: str = ""


# busybox nc has -z only when built with NC_110_COMPAT (the official image is; Debian's is not).
# Without it, connect with stdin at EOF: a server that closes makes nc exit 0, one that waits is
# killed by `timeout` (exit 124/143) after the connect succeeded: both mean "open".
_NC_PRELUDE = [
    'if nc 2>&1 | grep -q -- "-z"; then Z=1; else Z=0; fi',
    "# the clock: read by the shell itself (a $(cut ...) costs two processes per probe, and a scan sends thousands)",
]


def tcp_script(targets: list[tuple[str, int]], wait_s: int) -> str:
    """A POSIX sh script that connects to every target at once and prints one ``TCP|...`` line each."""
    lines = [f"W={wait_s}", *_NC_PRELUDE,
             'p() { read s _ </proc/uptime; if [ $Z = 1 ]; then err=$(nc -z -w "$W" "$1" "$2" 2>&1 </dev/null); rc=$?; '
             'else err=$(timeout $((W+1)) nc -w "$W" "$1" "$2" 2>&1 </dev/null); rc=$?; '
             'if [ $rc -eq 124 ] || [ $rc -eq 143 ]; then rc=0; err=""; fi; fi; '
             'read e _ </proc/uptime; if [ -n "$err" ]; then err=$(echo $err | tr "|" " "); fi; '
             'echo "TCP|$1|$2|$rc|$s|$e|$err"; }']
    lines += [f"p {host} {port} &" for host, port in targets]
    lines.append("wait")
    return "\n".join(lines)


def classify_tcp(rc: int, elapsed_s: float, message: str, wait_s: float) -> str:
    if rc == 0:
        return "open"
    low = message.lower()
    if "refused" in low:
        return "refused"
    if "timed out" in low or elapsed_s >= wait_s - 0.05:
        return "timeout"
    if "unreachable" in low or "no route" in low:
        return "unreachable"
    # busybox nc -z says nothing on a refused connect: a fast failure is a refusal (RST).
    return "refused" if not low else "error"


def parse_tcp(text: str, wait_s: float) -> list[TcpResult]:
    out = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 7 or parts[0] != "TCP":
            continue
        host, port, rc = parts[1], int(parts[2]), int(parts[3])
        try:
            elapsed = max(0.0, float(parts[5]) - float(parts[4]))
        except ValueError:
            elapsed = 0.0
        message = parts[6].strip()
        outcome = classify_tcp(rc, elapsed, message, wait_s)
        out.append(TcpResult(host, port, outcome == "open", outcome, round(elapsed * 1000, 1), message))
    return out


@dataclass(frozen=True)
class UdpResult:
    """One UDP probe: a DNS query sent as the datagram (busybox ``nslookup NAME HOST:PORT``), which
    works on any image with nslookup and reports the kernel's ICMP port unreachable as a refusal.

    ``answered`` proves something is bound and replies; ``refused`` (ICMP port unreachable) proves
    nothing is bound, or a REJECT. ``no_reply`` proves nothing on a port that need not answer (most
    UDP apps do not answer a stray datagram); on a DNS port it is a failure.
    """

    host: str
    port: int
    outcome: str
    """``answered``, ``refused``, ``no_reply`` or ``error``."""
    latency_ms: float | None
    dns: bool
    """The port serves DNS (so a DNS answer is what a healthy one sends)."""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "answered"

    @property
    def failed(self) -> bool:
        """Proven failure: refused, or silence from a DNS port."""
        return self.outcome == "refused" or (self.dns and self.outcome in ("no_reply", "error"))


def udp_script(targets: list[tuple[str, int, bool]], name: str, wait_s: int) -> str:
    """One ``nslookup -type=a NAME HOST:PORT`` per target, all at once, one ``UDP|...`` line each.
    ``targets`` are ``(host, port, is_dns)``; the DNS question doubles as the datagram for other ports."""
    lines = [f"W={wait_s}",
             'u() { read s _ </proc/uptime; out=$(timeout "$W" nslookup -type=a "$4" "$1:$2" 2>&1); rc=$?; read e _ </proc/uptime; '
             'echo "UDP|$1|$2|$3|$rc|$s|$e|$(echo "$out" | tr "|\n" " ~")"; }']
    lines += [f"u {host} {port} {int(dns)} '{name}' &" for host, port, dns in targets]
    lines.append("wait")
    return "\n".join(lines)


def classify_udp(rc: int, output: str) -> str:
    low = output.lower()
    if "connection refused" in low:
        return "refused"  # the kernel got ICMP port unreachable back on the connected socket
    if "server:" in low or "can't find" in low or "name:" in low or "non-authoritative" in low:
        return "answered"  # any DNS reply, even NXDOMAIN or REFUSED, came from something bound there
    if rc in (124, 143) or "timed out" in low or "no servers could be reached" in low or not low.strip():
        return "no_reply"
    return "error"


def parse_udp(text: str) -> list[UdpResult]:
    out = []
    for line in text.splitlines():
        parts = line.split("|", 7)
        if len(parts) < 8 or parts[0] != "UDP":
            continue
        try:
            latency = round(max(0.0, float(parts[6]) - float(parts[5])) * 1000, 1)
        except ValueError:
            latency = None
        output = parts[7].replace("~", "\n")
        outcome = classify_udp(int(parts[4]), output)
        detail = next((ln.strip() for ln in output.splitlines()
                       if ln.strip() and not ln.startswith(("Server:", "Address:"))), "")[:200]
        out.append(UdpResult(parts[1], int(parts[2]), outcome, latency, parts[3] == "1", detail))
    return out


@dataclass(frozen=True)
class HttpResult:
    url: str
    outcome: str
    """``ok`` (2xx/3xx), ``client_error``, ``server_error``, ``refused``, ``reset``, ``empty`` (connected, then
    closed with no answer), ``timeout``, ``not_http``, ``error``."""
    status: int | None
    latency_ms: float | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def http_script(urls: list[str], wait_s: int, attempts: int = 1, per_url: dict[str, int] | None = None) -> str:
    """HTTP/1.0 GETs written by hand through nc, so any image with nc works (busybox's static wget
    crashes in some builds); the server closes after its answer, which ends nc. Each URL is asked
    ``attempts`` times at once (``per_url`` overrides it per URL): through a Service each GET may
    land on another endpoint; a pod IP needs fewer."""
    lines = [f"W={wait_s}", *_NC_PRELUDE,
             'g() { read s _ </proc/uptime; out=$(printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: kubectl-netdoctor\\r\\n'
             'Connection: close\\r\\n\\r\\n" "$4" "$2" | timeout $((W+1)) nc -w "$W" "$2" "$3" 2>&1 | head -c 300); '
             'rc=$?; read e _ </proc/uptime; echo "HTTP|$1|$rc|$s|$e|$(echo "$out" | tr "|\\r\\n" "  ~")"; }']
    for url in urls:
        host_port, _, path = url.removeprefix("http://").partition("/")
        host, _, port = host_port.rpartition(":")
        lines.extend([f"g '{url}' {host} {port} '/{path}' &"] * (per_url or {}).get(url, attempts))
    lines.append("wait")
    return "\n".join(lines)


_STATUS = re.compile(r"HTTP/\d(?:\.\d)?\s+(\d{3})")


def classify_http(rc: int, output: str, elapsed_s: float | None = None,
                  wait_s: float | None = None) -> tuple[str, int | None]:
    """The outcome of one GET. Nothing back is a timeout only when nc waited its time out: a
    connection closed at once with no byte (a server or proxy that accepts and hangs up) is ``empty``."""
    statuses = [int(s) for s in _STATUS.findall(output)]
    status = statuses[-1] if statuses else None
    low = output.lower()
    if status is not None:
        if status >= 500:
            return "server_error", status
        if status >= 400:
            return "client_error", status
        return ("ok", status) if rc == 0 or status < 400 else ("error", status)
    if "refused" in low:
        return "refused", None
    if "reset" in low:
        return "reset", None
    if "timed out" in low:
        return "timeout", None
    if output.strip():
        return "not_http", None  # connected, but the answer is not an HTTP status line
    if elapsed_s is not None and wait_s is not None and elapsed_s < wait_s - 0.05:
        return "empty", None  # connected and closed before nc's wait ran out
    return "timeout", None  # connected, but nothing came back before nc gave up


def group_by_url(results: list[HttpResult]) -> dict[str, tuple[HttpResult, ...]]:
    """Every attempt of each URL, in the order they answered."""
    out: dict[str, list[HttpResult]] = {}
    for r in results:
        out.setdefault(r.url, []).append(r)
    return {url: tuple(rs) for url, rs in out.items()}


def parse_http(text: str, wait_s: float | None = None) -> list[HttpResult]:
    """``wait_s``: the script's ``W`` (nc's wait), which tells a timeout from a connection closed at once."""
    out = []
    for line in text.splitlines():
        parts = line.split("|", 5)
        if len(parts) < 6 or parts[0] != "HTTP":
            continue
        url, rc = parts[1], int(parts[2])
        try:
            elapsed: float | None = max(0.0, float(parts[4]) - float(parts[3]))
        except ValueError:
            elapsed = None
        latency = round(elapsed * 1000, 1) if elapsed is not None else None
        output = parts[5].replace("~", "\n")
        outcome, status = classify_http(rc, output, elapsed, wait_s)
        detail = next((ln.strip() for ln in output.splitlines() if ln.strip()), "")[:200]
        out.append(HttpResult(url, outcome, status, latency, detail))
    return out


@dataclass(frozen=True)
class Resolv:
    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    ndots: int
    options: tuple[str, ...] = field(default_factory=tuple)


def parse_resolv_conf(text: str) -> Resolv:
    servers, search, options, ndots = [], [], [], 1  # glibc's default ndots is 1
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            for opt in words[1:]:
                options.append(opt)
                if opt.startswith("ndots:") and opt[6:].isdigit() and len(opt) <= 10:
                    ndots = int(opt[6:])
    return Resolv(tuple(servers), tuple(search), ndots, tuple(options))


@dataclass(frozen=True)
class LookupResult:
    name: str
    outcome: str
    """``ok``, ``nxdomain``, ``servfail``, ``refused``, ``timeout``, ``error``."""
    addresses: tuple[str, ...]
    latency_ms: float | None
    server: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def nslookup_script(names: list[str], wait_s: int) -> str:
    lines = [
        f"W={wait_s}",
        'l() { read s _ </proc/uptime; out=$(timeout "$W" nslookup "$1" 2>&1); rc=$?; '
        'read e _ </proc/uptime; echo "DNS|$1|$rc|$s|$e|$(echo "$out" | tr "|\\n" " ~")"; }',
    ]
    lines += [f"l '{n}' &" for n in names]
    lines.append("wait")
    return "\n".join(lines)


_ADDR = re.compile(r"^Address(?:\s+\d+)?:\s*([0-9a-fA-F:.]+)(?:#\d+)?\s*$")


def parse_nslookup_output(name: str, rc: int, output: str, latency_ms: float | None) -> LookupResult:
    """busybox (and bind) nslookup: the server block first, then the answer block."""
    lines = [ln.strip() for ln in output.splitlines()]
    server = ""
    answers: list[str] = []
    in_answer = False
    for ln in lines:
        if ln.startswith("Server:"):
            server = ln.split(":", 1)[1].strip()
        elif ln.startswith("Name:"):
            in_answer = True
        elif in_answer and (m := _ADDR.match(ln)):
            answers.append(m.group(1))
    low = output.lower()
    if answers:
        outcome = "ok"
    elif "nxdomain" in low or "can't find" in low and "nxdomain" in low:
        outcome = "nxdomain"
    elif "servfail" in low:
        outcome = "servfail"
    elif "refused" in low:
        outcome = "refused"
    elif "timed out" in low or "no servers could be reached" in low or rc in (124, 143):
        outcome = "timeout"
    elif "can't find" in low:
        outcome = "nxdomain" if "no answer" not in low else "nodata"
    else:
        outcome = "error"
    detail = next((ln for ln in lines if ln.startswith(("**", ";;", "nslookup:"))), "")
    return LookupResult(name, outcome, tuple(answers), latency_ms, server, detail)


def parse_nslookup(text: str) -> list[LookupResult]:
    out = []
    for line in text.splitlines():
        parts = line.split("|", 5)
        if len(parts) < 6 or parts[0] != "DNS":
            continue
        try:
            latency = round(max(0.0, float(parts[4]) - float(parts[3])) * 1000, 1)
        except ValueError:
            latency = None
        out.append(parse_nslookup_output(parts[1], int(parts[2]), parts[5].replace("~", "\n"), latency))
    return out


def lookup_result(name: str, answer, latency_ms: float, pod: str) -> LookupResult:
    """A dnspython answer (the direct CoreDNS query) as the DNS step reads it: ok (A records), nodata, or
    the rcode (nxdomain...)."""
    import dns.rcode

    rcode = dns.rcode.to_text(answer.rcode()).lower()
    addrs = tuple(r.address for rrset in answer.answer for r in rrset if hasattr(r, "address"))
    outcome = "ok" if rcode == "noerror" and addrs else ("nodata" if rcode == "noerror" else rcode)
    return LookupResult(name, outcome, addrs, latency_ms, pod, rcode.upper())
