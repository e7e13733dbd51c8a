"""The XSLT 2/3 rules engine: SaxonC-HE in a bounded process, compiled rules cached by content hash.

Rules whose query binding is ``xslt2``/``xslt3`` (a Schematron ``queryBinding``, or a compiled rules stylesheet's
``version``) run here; ``xslt1`` rules stay on lxml (:mod:`exchange._validation`). The engine is one child process
(:mod:`exchange._xslt2_worker`) per Python process, shared under a lock and started on first use:

- **bounded**: compiling and each run have a wall-clock limit; the process has a memory limit (``RLIMIT_DATA``:
  the GraalVM isolate inside SaxonC reserves address space, so ``RLIMIT_AS`` would stop it starting). Past a limit
  the process is killed and restarted, and the caller gets ``RULES-LIMIT-EXCEEDED``;
- **confined**: a rules file is code. Before it is compiled, constructs that reach outside the document are refused
  (``RULES-FORBIDDEN``: ``doc()``, ``unparsed-text()``, ``collection()``, ``environment-variable()``,
  ``function-lookup()``, ``xsl:result-document``, ``xsl:evaluate``, ``xsl:include``/``import``, Saxon extension
  instructions); at run time Saxon's ``allowedProtocols`` is empty (no URI is read), the process has no environment
  variables and runs in an empty temporary folder;
- **never a pass on failure**: a compile error is ``RULES-LOAD-FAILED``, a run error ``RULES-RUN-FAILED``; both are
  raised, and :mod:`exchange._validation` turns a run failure into an error finding of the rules check;
- **cached**: the XSLT a Schematron compiles to is kept on disk under ``$PTX_RULES_CACHE`` (default
  ``$XDG_CACHE_HOME/ptx/rules`` or ``~/.cache/ptx/rules``), keyed by the SHA-256 of the compiler version, the phase
  and every file the schema includes; Saxon's compiled form lives in the engine process, keyed by the SHA-256 of
  the XSLT, so the same rules under two paths compile once. (SaxonC-HE cannot export a compiled stylesheet, so each
  new process compiles the XSLT once: about 1 to 3 s for EN 16931.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from exchange._errors import Code, ConfigurationError, ExchangeError
from exchange._schematron import SCH_NS, XSL_NS, QueryBinding, compile_schematron, query_binding
from exchange._xml import load_trusted_xml, parse_xml

#: bump when the Schematron compiler's output changes: old cache entries are then ignored
COMPILER_VERSION = "1"
ENV_CACHE = "PTX_RULES_CACHE"


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Bounds of the XSLT 2/3 engine process. Defaults fit EN 16931 on a small machine with room to spare."""

    compile_seconds: float = 120.0
    run_seconds: float = 60.0
    memory_bytes: int = 2 << 30
    start_seconds: float = 60.0


DEFAULT_LIMITS = EngineLimits()


def cache_dir() -> Path:
    """Where compiled rules are kept between runs."""
    named = os.environ.get(ENV_CACHE)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path("~").expanduser() / ".cache")
    return Path(base) / "ptx" / "rules"


# --- what a rules file may contain ----------------------------------------------------------------------------

_FORBIDDEN_FUNCTIONS = re.compile(
    r"(?<![\w.:-])(?:fn:)?(doc|document|doc-available|unparsed-text|unparsed-text-lines|unparsed-text-available|"
    r"collection|uri-collection|json-doc|environment-variable|available-environment-variables|function-lookup|"
    r"load-xquery-module|transform|put)\s*\("
)
_FORBIDDEN_INSTRUCTIONS = {f"{{{XSL_NS}}}{name}" for name in (
    "result-document", "evaluate", "include", "import", "source-document", "import-schema", "use-package",
)}
_SAXON_NS = "http://saxon.sf.net/"


def check_confined(root: etree._Element, source: str) -> None:
    """Refuse a stylesheet that could read or write outside the document it checks (``RULES-FORBIDDEN``)."""
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag in _FORBIDDEN_INSTRUCTIONS or node.tag.startswith(f"{{{_SAXON_NS}}}"):
            raise ConfigurationError(
                f"{source}: line {node.sourceline}: {etree.QName(node).localname} is refused in rules "
                "(rules may only read the document they check)", code=Code.RULES_FORBIDDEN, line=node.sourceline,
            )
        texts = list(node.attrib.values())
        if node.tag in (f"{{{XSL_NS}}}value-of", f"{{{XSL_NS}}}sequence") and node.text:
            texts.append(node.text)
        for text in texts:
            found = _FORBIDDEN_FUNCTIONS.search(text)
            if found:
                raise ConfigurationError(
                    f"{source}: line {node.sourceline}: {found.group(1)}() is refused in rules "
                    "(rules may only read the document they check)", code=Code.RULES_FORBIDDEN,
                    line=node.sourceline,
                )


# --- rules files --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Xslt2Rules:
    """A rules file ready for the XSLT 2/3 engine: its XSLT and the key it is compiled under."""

    source: str
    binding: QueryBinding
    xslt: bytes
    key: str  #: SHA-256 of the XSLT

    def svrl(self, tree: etree._ElementTree, *, engine: Engine | None = None) -> etree._ElementTree:
        """Run the rules on a parsed document; the SVRL report. Raises on any failure, never returns a pass."""
        return (engine or default_engine()).run(self, tree)


def _included_files(path: Path, seen: list[Path]) -> None:
    if path in seen or len(seen) > 200:
        return
    seen.append(path)
    try:
        root = load_trusted_xml(str(path)).getroot()
    except ConfigurationError:
        return
    for node in root.iter(f"{{{SCH_NS}}}include", f"{{{SCH_NS}}}extends"):
        href = node.get("href")
        if href and "://" not in href:
            _included_files((path.parent / href).resolve(), seen)


def _source_key(path: Path, phase: str | None) -> str:
    files: list[Path] = []
    _included_files(path, files)
    digest = hashlib.sha256(f"ptx-schematron-{COMPILER_VERSION}\0{phase or ''}\0".encode())
    for file in files:
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"\0missing\0" + str(file).encode())
    return digest.hexdigest()


def _read_cache(key: str) -> bytes | None:
    try:
        return (cache_dir() / f"{key}.xslt").read_bytes()
    except OSError:
        return None


def _write_cache(key: str, xslt: bytes) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as handle:
            handle.write(xslt)
        os.replace(handle.name, folder / f"{key}.xslt")
    except OSError:
        pass  # a read-only home: compile again next time


def load_xslt2_rules(path: str | os.PathLike[str], *, phase: str | None = None,
                     engine: Engine | None = None) -> Xslt2Rules:
    """Prepare an XSLT 2/3 rules file (Schematron or compiled XSLT): confined, compiled in the engine, cached."""
    file = Path(path).resolve()
    source = str(path)
    try:
        root = load_trusted_xml(str(file)).getroot()
    except ConfigurationError as exc:
        raise ConfigurationError(exc.message, code=Code.RULES_LOAD_FAILED if exc.code is Code.SCHEMA_LOAD_FAILED
                                 else exc.code, line=exc.line, column=exc.column) from exc
    binding = query_binding(root, source)
    if root.tag == f"{{{SCH_NS}}}schema":
        key = _source_key(file, phase)
        xslt = _read_cache(key)
        if xslt is None:
            xslt = compile_schematron(file, phase=phase).xslt
            _write_cache(key, xslt)
        stylesheet = parse_xml(xslt).getroot()
    else:
        xslt = file.read_bytes()
        stylesheet = root
    check_confined(stylesheet, source)
    rules = Xslt2Rules(source=source, binding=binding, xslt=xslt, key=hashlib.sha256(xslt).hexdigest())
    (engine or default_engine()).compile(rules)
    return rules


# --- the engine process -----------------------------------------------------------------------------------


class Engine:
    """One SaxonC-HE process, shared by the threads of this process under a lock."""

    def __init__(self, limits: EngineLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._compiled: set[str] = set()
        self._sources: dict[str, Xslt2Rules] = {}
        self.version: str | None = None

    # the frames
    def _send(self, header: dict[str, object], payload: bytes = b"") -> None:
        assert self._process is not None and self._process.stdin is not None
        encoded = json.dumps({**header, "size": len(payload)}).encode()
        self._process.stdin.write(struct.pack(">I", len(encoded)) + encoded + payload)
        self._process.stdin.flush()

    def _read(self, size: int, deadline: float) -> bytes:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        chunks: list[bytes] = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, min(size, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _receive(self, seconds: float) -> tuple[dict[str, object], bytes]:
        deadline = time.monotonic() + seconds
        (length,) = struct.unpack(">I", self._read(4, deadline))
        header = json.loads(self._read(length, deadline))
        payload = self._read(int(header.get("size", 0)), deadline)
        return header, payload

    def _start(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="ptx-xslt2-")
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {"PYTHONPATH": package_root, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        bootstrap = (f"import sys; sys.path.insert(0, {package_root!r}); "
                     "from exchange._xslt2_worker import main; raise SystemExit(main())")
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-c", bootstrap, str(self.limits.memory_bytes)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                cwd=self._folder.name,
            )
            header, _ = self._receive(self.limits.start_seconds)
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            self._stop()
            raise ConfigurationError(
                f"the XSLT 2/3 engine did not start ({type(exc).__name__})", code=Code.RULES_ENGINE_UNAVAILABLE
            ) from exc
        if not header.get("ok"):
            self._stop()
            raise ConfigurationError(f"the XSLT 2/3 engine did not start: {header.get('error')}",
                                     code=Code.RULES_ENGINE_UNAVAILABLE)
        self.version = str(header.get("version"))
        self._compiled = set()

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        self._compiled = set()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _request(self, header: dict[str, object], payload: bytes, seconds: float, source: str,
                 what: str) -> tuple[dict[str, object], bytes]:
        if self._process is None or self._process.poll() is not None:
            self._stop()
            self._start()
        try:
            self._send(header, payload)
            return self._receive(seconds)
        except TimeoutError as exc:
            self._stop()
            raise ConfigurationError(
                f"{source}: {what} took longer than {seconds:g} s: stopped", code=Code.RULES_LIMIT_EXCEEDED
            ) from exc
        except (EOFError, BrokenPipeError, OSError, ValueError) as exc:
            code = None
            if self._process is not None:
                try:
                    code = self._process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
            self._stop()
            raise ConfigurationError(
                f"{source}: the XSLT 2/3 engine process ended while {what} (exit {code}; over the memory limit of "
                f"{self.limits.memory_bytes >> 20} MiB?)", code=Code.RULES_LIMIT_EXCEEDED,
            ) from exc

    def _compile_locked(self, rules: Xslt2Rules) -> None:
        header, _ = self._request({"op": "compile", "key": rules.key}, rules.xslt, self.limits.compile_seconds,
                                  rules.source, "compiling")
        if not header.get("ok"):
            raise ConfigurationError(f"{rules.source}: does not compile: {header.get('error')}",
                                     code=Code.RULES_LOAD_FAILED)
        self._compiled.add(rules.key)
        self._sources[rules.key] = rules

    def compile(self, rules: Xslt2Rules) -> None:
        with self._lock:
            if rules.key not in self._compiled or self._process is None:
                self._compile_locked(rules)

    def run(self, rules: Xslt2Rules, tree: etree._ElementTree) -> etree._ElementTree:
        document = etree.tostring(tree, encoding="UTF-8")
        with self._lock:
            if rules.key not in self._compiled or self._process is None or self._process.poll() is not None:
                self._compile_locked(rules)  # a restarted process compiles again
            header, payload = self._request({"op": "run", "key": rules.key}, document, self.limits.run_seconds,
                                            rules.source, "running")
        if not header.get("ok"):
            raise ConfigurationError(f"{rules.source}: failed on the document: {header.get('error')}",
                                     code=Code.RULES_RUN_FAILED)
        try:
            report = parse_xml(payload)
        except ExchangeError as exc:
            raise ConfigurationError(f"{rules.source}: the rules' output is not XML ({exc.message})",
                                     code=Code.RULES_RUN_FAILED) from exc
        if report.getroot().tag != "{http://purl.oclc.org/dsdl/svrl}schematron-output":
            raise ConfigurationError(
                f"{rules.source}: the rules' output is not an SVRL report (root {report.getroot().tag})",
                code=Code.RULES_RUN_FAILED,
            )
        return report

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


_engine: Engine | None = None
_engine_pid: int | None = None
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    """The process's shared engine (started on first use). A forked child (``ptx validate --jobs``) gets its own:
    the parent's pipes are the parent's."""
    global _engine, _engine_pid
    with _engine_lock:
        if _engine is None or _engine_pid != os.getpid():
            _engine = Engine()
            _engine_pid = os.getpid()
            import atexit

            atexit.register(_engine.close)
        return _engine


__all__ = ["EngineLimits", "Engine", "Xslt2Rules", "cache_dir", "check_confined", "default_engine",
           "load_xslt2_rules"]
