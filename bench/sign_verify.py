"""Sign and verify throughput: exchange._dsig beside python-xmlsec (libxmlsec1), same documents, same run.

    .venv/bin/python bench/sign_verify.py            # about 40 s
    .venv/bin/python bench/sign_verify.py --quick    # about 15 s

Documents of about 10 KB, 100 KB and 1 MB (a certificate of origin with N goods items), keys P-256 and
RSA-2048, each signer certificate issued by an intermediate under a root.

What each column measures (median time of one call, shown as calls per second; three interleaved
rounds, the best kept):

sign ours       sign_document(bytes) -> bytes: hardened parse, exclusive C14N, digest, signature, serialise
sign xmlsec     the same parse, a template built with xmlsec.template, SignatureContext.sign, serialise
verify ours     verify_signature(bytes): hardened parse + strict profile + digest + signature value
+trust warm     what the receiving path does in its steady state: the same, then TrustContext.evaluate (path
                to the anchor, validity, CRLs, key usage) on one context that has evaluated this signer before
                (its path and revocation decisions cached)
+trust cold     the same with a new TrustContext for every call (its index built, its first evaluation) and
                the process-wide certificate parse caches of exchange._pkix emptied first: what the first
                document after a start or a trust list change pays
verify xmlsec   the same hardened parse, then SignatureContext.verify with the signer key loaded once from
                memory (no KeyInfo certificate parsing, no profile checks, no trust): a lower bound for it
floor           the C-backed calls alone: parse + exclusive C14N + SHA-256 + one signature verification

python-xmlsec, like the xmlsec1 command line, also trusts the certificates named by SSL_CERT_FILE; it is
pointed at an empty file before xmlsec is imported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID
from lxml import etree

from exchange._algorithms import Namespace
from exchange._dsig import sign_document, verify_signature
from exchange._trust import TrustContext
from exchange._xml import parse_xml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import banner, finished  # noqa: E402

_EMPTY_BUNDLE = tempfile.NamedTemporaryFile(prefix="empty-ca-", suffix=".pem", delete=False)  # noqa: SIM115
_EMPTY_BUNDLE.close()
os.environ["SSL_CERT_FILE"] = _EMPTY_BUNDLE.name

try:
    import xmlsec
except ImportError as exc:  # pragma: no cover - depends on the environment
    xmlsec = None
    XMLSEC_MISSING = f"python-xmlsec is not available ({exc}); pip install xmlsec (it is in the dev extra)"
else:
    XMLSEC_MISSING = ""

MOMENT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SIZES = {"10 KB": 10_000, "100 KB": 100_000, "1 MB": 1_000_000}
ROUNDS = 3


# --- material ---------------------------------------------------------------------------------------------


def make_document(target: int) -> bytes:
    """A certificate of origin padded with goods items to about ``target`` bytes (deterministic)."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<co:CertificateOfOrigin xmlns:co="urn:example:co:1" xmlns:ram="urn:example:ram:1">\n'
        "  <co:ID>COO-AA-2026-000001</co:ID>\n"
        "  <co:IssueDateTime>2026-06-01T09:00:00Z</co:IssueDateTime>\n"
        '  <co:Exporter><ram:Name>Example Exports Ltd</ram:Name><ram:Country listID="ISO3166">AA</ram:Country>'
        "</co:Exporter>\n"
        "  <co:Consignment>\n"
    )
    tail = "  </co:Consignment>\n</co:CertificateOfOrigin>\n"
    items: list[str] = []
    size = len(head) + len(tail)
    number = 0
    while size < target:
        number += 1
        item = (
            f'    <co:Item sequence="{number}"><ram:Description>Green coffee beans, lot {number:06d}, '
            f"washed arabica &amp; sorted</ram:Description><ram:HSCode>090111</ram:HSCode>"
            f'<ram:NetWeight unitCode="KGM">{1000 + number * 7 % 997}.5</ram:NetWeight>'
            f"<ram:Origin>AA</ram:Origin></co:Item>\n"
        )
        items.append(item)
        size += len(item)
    return (head + "".join(items) + tail).encode()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _issue(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool, serial: int) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2035, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _crl(issuer: x509.Certificate, issuer_key: Any) -> x509.CertificateRevocationList:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(MOMENT - dt.timedelta(days=1))
        .next_update(MOMENT + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class Signer:
    label: str
    key: Any
    chain: list[x509.Certificate]
    root: x509.Certificate
    crls: tuple[x509.CertificateRevocationList, ...]

    def key_pem(self) -> bytes:
        return bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def cert_pem(self, index: int = 0) -> bytes:
        return self.chain[index].public_bytes(serialization.Encoding.PEM)


def make_signers() -> list[Signer]:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue("Bench Root", root_key, "Bench Root", root_key, True, 1)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _issue("Bench Issuing CA", intermediate_key, "Bench Root", root_key, True, 2)
    crls = (_crl(root, root_key), _crl(intermediate, intermediate_key))
    signers = []
    for serial, (label, key) in enumerate(
        [("P-256", ec.generate_private_key(ec.SECP256R1())), ("RSA-2048", rsa.generate_private_key(65537, 2048))],
        start=10,
    ):
        leaf = _issue(f"Bench signer {label}", key, "Bench Issuing CA", intermediate_key, False, serial)
        signers.append(Signer(label, key, [leaf, intermediate], root, crls))
    return signers


# --- the operations ---------------------------------------------------------------------------------------


def xmlsec_sign_function(signer: Signer) -> Callable[[bytes], bytes]:
    assert xmlsec is not None
    key = xmlsec.Key.from_memory(signer.key_pem(), xmlsec.constants.KeyDataFormatPem)
    for index in range(len(signer.chain)):
        key.load_cert_from_memory(signer.cert_pem(index), xmlsec.constants.KeyDataFormatCertPem)
    method = xmlsec.Transform.ECDSA_SHA256 if signer.label == "P-256" else xmlsec.Transform.RSA_SHA256

    def sign(document: bytes) -> bytes:
        tree = parse_xml(document)
        signature = xmlsec.template.create(tree.getroot(), xmlsec.Transform.EXCL_C14N, method, ns="ds")
        tree.getroot().append(signature)
        reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="")
        xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
        xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        context = xmlsec.SignatureContext()
        context.key = key
        context.sign(signature)
        return etree.tostring(tree, encoding="UTF-8", xml_declaration=True)

    return sign


def xmlsec_verify_function(signer: Signer) -> Callable[[bytes], None]:
    assert xmlsec is not None
    key = xmlsec.Key.from_memory(signer.cert_pem(0), xmlsec.constants.KeyDataFormatCertPem)
    signature_tag = Namespace.DS.tag("Signature")

    def verify(document: bytes) -> None:
        tree = parse_xml(document)
        signature = tree.getroot()[-1]
        assert signature.tag == signature_tag
        context = xmlsec.SignatureContext()
        context.key = key
        context.verify(signature)  # raises xmlsec.VerificationError when invalid

    return verify


def _empty_parse_caches() -> None:
    """Empty exchange._pkix's lru_caches (certificates and names parsed once per process)."""
    from exchange import _pkix

    for value in vars(_pkix).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def ours_verify_functions(signer: Signer) -> dict[str, Callable[[bytes], None]]:
    """``verify ours``: parse + verify_signature; ``+trust warm`` / ``+trust cold``: then TrustContext.evaluate
    on one shared context / on a new one each time (see the module docstring)."""

    def verify(document: bytes) -> None:
        check = verify_signature(document)
        if not check.valid:
            raise AssertionError(check.findings)

    functions: dict[str, Callable[[bytes], None]] = {"verify ours": verify}
    try:
        trust = TrustContext.from_anchors([signer.root], moment=MOMENT, crls=signer.crls)
    except Exception as exc:  # noqa: BLE001 - report and fall back: the bench must still run
        print(f"note: exchange._trust is present but could not be used ({exc}); signature only")
        return functions

    def verify_and_trust(document: bytes, context: TrustContext | None = None) -> None:
        check = verify_signature(document)
        if not check.valid or check.signer is None:
            raise AssertionError(check.findings)
        decision = (context or trust).evaluate(check.signer, check.chain)
        if not decision.trusted:
            raise AssertionError(decision.findings)

    def verify_and_trust_cold(document: bytes) -> None:
        _empty_parse_caches()
        verify_and_trust(document, TrustContext.from_anchors([signer.root], moment=MOMENT, crls=signer.crls))

    functions["verify +trust warm"] = verify_and_trust
    functions["verify +trust cold"] = verify_and_trust_cold
    return functions


def floor_function(signer: Signer) -> Callable[[bytes], None]:
    """The C-backed calls a verification cannot avoid; digest and value taken from the signed document."""
    public_key = signer.chain[0].public_key()

    def floor(document: bytes) -> None:
        tree = parse_xml(document)
        root = tree.getroot()
        signature = root[-1]
        signed_info = signature[0]
        signed_info_bytes = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
        root.remove(signature)
        hashlib.sha256(etree.tostring(tree, method="c14n", exclusive=True, with_comments=False)).digest()
        value = _FLOOR_VALUES[id(signer)]
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(value, signed_info_bytes, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, signed_info_bytes, padding.PKCS1v15(), hashes.SHA256())

    return floor


_FLOOR_VALUES: dict[int, bytes] = {}


def _prepare_floor(signer: Signer, signed: bytes) -> None:
    import base64

    tree = parse_xml(signed)
    raw = base64.b64decode((tree.getroot()[-1].findtext(Namespace.DS.tag("SignatureValue")) or "").strip())
    if signer.label == "P-256":
        raw = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    _FLOOR_VALUES[id(signer)] = raw


def measure(function: Callable[[bytes], Any], document: bytes, budget: float, minimum: int) -> float:
    """Calls per second from the median duration of repeated calls within ``budget`` seconds."""
    function(document)  # warm up (and fail loudly before timing)
    durations: list[float] = []
    deadline = time.perf_counter() + budget
    while len(durations) < minimum or time.perf_counter() < deadline:
        start = time.perf_counter()
        function(document)
        durations.append(time.perf_counter() - start)
        if len(durations) >= 20_000:
            break
    return 1.0 / statistics.median(durations)


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ratio(ours: float, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shorter timing budgets (about 15 s in all)")
    arguments = parser.parse_args(argv)
    budget_small, budget_large, minimum = (0.25, 0.5, 2) if arguments.quick else (0.8, 1.6, 3)

    started = time.perf_counter()
    banner("ptx sign and verify benchmark: exchange._dsig beside python-xmlsec" + (" (--quick)" if arguments.quick else ""))
    signers = make_signers()
    documents = {label: make_document(size) for label, size in SIZES.items()}
    if XMLSEC_MISSING:
        print(f"note: {XMLSEC_MISSING}")

    header = (
        f"{'document':>9} {'key':>8} | {'sign/s ours':>11} {'xmlsec':>7} {'ratio':>6} | "
        f"{'verify/s ours':>13} {'+trust warm':>11} {'cold':>6} {'xmlsec':>7} {'ratio':>6} {'warm':>6} | "
        f"{'floor':>7} {'ours/floor':>10}"
    )
    print(header)
    print("-" * len(header))
    with_trust = False
    for label, document in documents.items():
        budget = budget_large if len(document) > 500_000 else budget_small
        for signer in signers:
            signed = sign_document(document, signer.key, signer.chain)
            _prepare_floor(signer, signed)
            functions: dict[str, Callable[[bytes], Any]] = {
                "sign ours": lambda d, s=signer: sign_document(d, s.key, s.chain),
                **ours_verify_functions(signer),
                "floor": floor_function(signer),
            }
            with_trust = "verify +trust warm" in functions
            if xmlsec is not None:
                xmlsec_sign = xmlsec_sign_function(signer)
                xmlsec_verify = xmlsec_verify_function(signer)
                # cross-checks on the same documents: each verifies the other's output
                xmlsec_verify(signed)
                if not verify_signature(xmlsec_sign(document)).valid:
                    raise AssertionError("a python-xmlsec signature did not verify with exchange._dsig")
                functions |= {"sign xmlsec": xmlsec_sign, "verify xmlsec": xmlsec_verify}
            # interleaved rounds, best round kept: background load hits every contender alike
            rates: dict[str, float] = {}
            for _ in range(ROUNDS):
                for name, function in functions.items():
                    data = document if name.startswith("sign") else signed
                    rate = measure(function, data, budget / ROUNDS, minimum)
                    rates[name] = max(rates.get(name, 0.0), rate)
            sign_ours, verify_rate, floor_rate = rates["sign ours"], rates["verify ours"], rates["floor"]
            trust_rate, cold_rate = rates.get("verify +trust warm"), rates.get("verify +trust cold")
            sign_xmlsec, verify_xmlsec = rates.get("sign xmlsec"), rates.get("verify xmlsec")
            print(
                f"{label:>9} {signer.label:>8} | {_rate(sign_ours):>11} {_rate(sign_xmlsec):>7} "
                f"{_ratio(sign_ours, sign_xmlsec):>6} | {_rate(verify_rate):>13} {_rate(trust_rate):>11} "
                f"{_rate(cold_rate):>6} "
                f"{_rate(verify_xmlsec):>7} {_ratio(verify_rate, verify_xmlsec):>6} "
                f"{_ratio(trust_rate, verify_xmlsec) if trust_rate else '-':>6} | "
                f"{_rate(floor_rate):>7} {verify_rate / floor_rate:>9.2f}x",
                flush=True,
            )
    print()
    print("Calls per second. verify ours = parse + verify_signature (signature only); +trust = that, then")
    print("TrustContext.evaluate (path to the anchor, validity, CRLs, key usage): warm = one context that has seen")
    print("the signer (steady state), cold = a new context each call and exchange._pkix's parse caches emptied")
    print("(the first document after a start or a trust list change). verify xmlsec = parse +")
    print("SignatureContext.verify with a preloaded key (no KeyInfo parsing, no profile checks, no trust).")
    print("ratio = ours / xmlsec (above 1: ours is faster); warm = +trust warm / xmlsec.")
    print("floor = parse + exc-C14N + SHA-256 + one verify (C calls only); ours/floor = verify ours / floor.")
    if not with_trust:
        print("Trust (chain, validity, CRLs) is NOT measured: exchange._trust was not available (signature only).")
    print(f"lxml {'.'.join(map(str, etree.LXML_VERSION))}"
          + (f", python-xmlsec {xmlsec.__version__}" if xmlsec is not None else ""))
    finished(started)
    os.unlink(_EMPTY_BUNDLE.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
