"""The XSLT 2/3 engine process: SaxonC-HE (``saxonche``) behind a pipe, started by :mod:`exchange._xslt2`.

Never imported by the parent: the parent starts this module's :func:`main` in ``python -I`` and talks to it over
stdin/stdout, so a runaway stylesheet (an endless recursion, a memory blow-up) is ended by killing this process,
and its memory limit (``RLIMIT_DATA``, set before SaxonC loads) and clean environment (no variables:
``environment-variable()`` finds nothing) cannot touch the caller. Frames: a 4-byte big-endian length, a JSON
header, then ``size`` bytes of payload.

Requests: ``{"op": "compile", "key", "size"}`` + XSLT, ``{"op": "run", "key", "size"}`` + a document (UTF-8,
already parsed and re-serialised by the hardened parser: no DOCTYPE), ``{"op": "ping"}``. Answers: ``{"ok": true,
"size"}`` + SVRL, or ``{"ok": false, "error"}``.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Any, BinaryIO

#: no URI scheme may be read by doc(), document(), unparsed-text(), collection(), xsl:include at run time
ALLOWED_PROTOCOLS = "http://saxon.sf.net/feature/allowedProtocols"


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _answer(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps({**header, "size": len(payload)}).encode()
    out.write(struct.pack(">I", len(encoded)) + encoded + payload)
    out.flush()


def main() -> int:
    if len(sys.argv) > 1:  # the memory limit, set before the engine reserves anything
        import resource

        limit = int(sys.argv[1])
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the pipe
    try:
        from saxonche import PySaxonProcessor
    except ImportError as exc:  # the parent reports RULES-ENGINE-UNAVAILABLE
        _answer(stdout, {"ok": False, "error": f"saxonche is not installed ({exc})", "unavailable": True})
        return 1
    processor = PySaxonProcessor(license=False)
    processor.set_configuration_property(ALLOWED_PROTOCOLS, "")
    compiler = processor.new_xslt30_processor()
    executables: dict[str, Any] = {}
    _answer(stdout, {"ok": True, "version": processor.version})
    while True:
        try:
            (length,) = struct.unpack(">I", _read_exact(stdin, 4))
            request = json.loads(_read_exact(stdin, length))
            payload = _read_exact(stdin, int(request.get("size", 0)))
        except EOFError:
            return 0
        try:
            if request["op"] == "compile":
                executables[request["key"]] = compiler.compile_stylesheet(stylesheet_text=payload.decode("utf-8"))
                _answer(stdout, {"ok": True})
            elif request["op"] == "run":
                executable = executables.get(request["key"])
                if executable is None:
                    _answer(stdout, {"ok": False, "error": "rules not compiled in this process", "missing": True})
                    continue
                node = processor.parse_xml(xml_text=payload.decode("utf-8"))
                result = executable.transform_to_string(xdm_node=node)
                if result is None:
                    _answer(stdout, {"ok": False, "error": "the stylesheet produced no output"})
                else:
                    _answer(stdout, {"ok": True}, result.encode("utf-8"))
            else:
                _answer(stdout, {"ok": True})
        except Exception as exc:  # noqa: BLE001 - every engine error goes back as a message, never a pass
            _answer(stdout, {"ok": False, "error": " ".join(str(exc).split())[:4000]})


if __name__ == "__main__":
    raise SystemExit(main())
