"""Hypothesis strategies that damage XML the way attackers and broken software do.

- :func:`mutated_bytes`: byte-level edits of a seed (flip, delete, insert, splice a hostile token, truncate,
  duplicate a slice), most of which the parser must refuse with a code;
- :func:`mutated_tree`: structural edits of a parsed seed (drop, duplicate, move, rename, re-namespace an
  element; change text or attributes; add a comment), which stay well-formed and so reach the schema, the
  signature and the pipeline behind the parser. Elements of the ``ds:Signature`` are picked as often as all
  others together, since that is where a verifier is attacked.
"""

from __future__ import annotations

import copy

from hypothesis import strategies as st
from lxml import etree

from exchange._algorithms import DigestMethod, Namespace, SignatureMethod, Transform
from exchange._xml import parse_xml

TOKENS = (
    b"<", b">", b"&", b"&amp;", b"&lt;", b"&#0;", b"&#x10FFFF;", b"&#xD800;", b"&e;", b"<![CDATA[x]]>", b"]]>",
    b"<!--", b"-->", b"<!---->", b"<?pi x?>", b"<!DOCTYPE a>", b'<!DOCTYPE a [<!ENTITY e "x">]>',
    b'<!ENTITY e SYSTEM "file:///etc/passwd">', b'xmlns="urn:x"', b'xmlns:ds="urn:x"', b'xmlns:xml="urn:x"',
    b"ds:", b"xi:include", b'Id="x"', b'URI="#x"', b'URI="http://127.0.0.1:9/x"', b"\x00", b"\xff\xfe",
    b"\xc3\x28", b"\xef\xbb\xbf", b" ", b"\n", b"\t", b"=", b'"', b"'", b"</", b"/>", b"<x>", b"</x>",
    b"<Envelope>", b"<ds:Signature>", b"</ds:Signature>", b"AAAA", b"====",
)

URIS = tuple(m.value for m in SignatureMethod) + tuple(m.value for m in DigestMethod) + tuple(
    t.value for t in Transform) + ("", "#x", "urn:unknown", "http://127.0.0.1:9/x")


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes, max_edits: int = 4) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_edits))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(("flip", "delete", "insert", "token", "truncate", "duplicate")))
        if operation == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "token":
            data[position:position] = draw(st.sampled_from(TOKENS))
        elif operation == "truncate":
            del data[position:]
        elif operation == "duplicate":
            end = min(len(data), position + draw(st.integers(1, 512)))
            data[end:end] = data[position:end]
    return bytes(data)


_DS_PREFIX = f"{{{Namespace.DS.value}}}"


def _pick(draw: st.DrawFn, elements: list[etree._Element]) -> etree._Element:
    signed = [element for element in elements if str(element.tag).startswith(_DS_PREFIX)]
    pool = draw(st.sampled_from((elements, signed or elements)))  # the signature as often as all the rest
    return draw(st.sampled_from(pool))


@st.composite
def mutated_tree(draw: st.DrawFn, seed: bytes, max_edits: int = 3) -> bytes:
    tree = parse_xml(seed)
    root = tree.getroot()
    for _ in range(draw(st.integers(1, max_edits))):
        elements = [element for element in root.iter(etree.Element)]
        element = _pick(draw, elements)
        parent = element.getparent()
        operation = draw(st.sampled_from(
            ("drop", "duplicate", "move", "text", "attribute", "algorithm", "rename", "namespace", "comment", "wrap")
        ))
        if operation == "drop" and parent is not None:
            parent.remove(element)
        elif operation == "duplicate" and parent is not None:
            parent.insert(parent.index(element) + draw(st.integers(0, 1)), copy.deepcopy(element))
        elif operation == "move" and parent is not None:
            target = _pick(draw, elements)
            if element not in target.iterancestors() and target is not element:
                parent.remove(element)
                target.insert(draw(st.integers(0, len(target))), element)
        elif operation == "text":
            element.text = draw(st.sampled_from(("", " ", "x", "AA", "BB", "CC", "msg-0000000000000002", "A" * 300,
                                                 "AAAA", "====", "\u00e9", "1.0", (element.text or "") + " ")))
        elif operation == "attribute":
            name = draw(st.sampled_from(("Id", "URI", "Algorithm", "Authority", "mediaType", "x",
                                         "{http://www.w3.org/XML/1998/namespace}lang")))
            element.set(name, draw(st.sampled_from(URIS + ("iso3166-1", "text/plain", "x"))))
        elif operation == "algorithm" and element.get("Algorithm") is not None:
            element.set("Algorithm", draw(st.sampled_from(URIS)))
        elif operation == "rename":
            qname = etree.QName(element)
            element.tag = etree.QName(qname.namespace, draw(st.sampled_from(
                ("Signature", "SignedInfo", "Reference", "Object", "Payload", "Header", "x", qname.localname + "s")
            ))).text if qname.namespace else "x"
        elif operation == "namespace":
            element.tag = etree.QName(draw(st.sampled_from(
                (Namespace.DS.value, "urn:ptx:exchange:Envelope:1", "urn:attacker")
            )), etree.QName(element).localname).text
        elif operation == "comment":
            element.insert(draw(st.integers(0, len(element))), etree.Comment(draw(st.sampled_from(("", "x", " a b ")))))
        elif operation == "wrap" and parent is not None:
            wrapper = etree.Element(etree.QName(element).text)
            parent.replace(element, wrapper)
            wrapper.append(element)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


__all__ = ["TOKENS", "mutated_bytes", "mutated_tree"]
