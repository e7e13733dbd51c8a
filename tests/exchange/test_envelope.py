"""Envelopes and receipts: built documents validate against their catalogue types and read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exchange import Code, InputError, Severity
from exchange._catalogue import default_catalogue
from exchange._envelope import (
    Party,
    ReceiptStatus,
    build_envelope,
    build_receipt,
    envelope_digest,
    read_envelope,
    read_receipt,
)
from exchange._findings import Finding
from exchange._validation import validate
from exchange._xml import parse_xml

MOMENT = datetime(2026, 11, 5, 8, 30, tzinfo=UTC)


def coo_bytes() -> bytes:
    doc_type = default_catalogue().get("certificate-of-origin")
    return next(s for s in doc_type.samples if s.expect == "valid").path.read_bytes()


def test_envelope_round_trip_keeps_payload_bytes() -> None:
    document = coo_bytes()
    data = build_envelope(
        document,
        sender=Party("AA", name="Single Window AA"),
        receiver=Party("BB", name="Единое окно BB"),
        document_type="certificate-of-origin",
        type_version="1.0",
        standard="urn:ptx:trade:CertificateOfOrigin:1",
        message_id="msg-00000001",
        agreement_ref="AA-BB-2026",
        created=MOMENT,
    )
    report = validate(data)
    assert report.valid and report.document_type == "envelope", report.findings
    header = read_envelope(parse_xml(data))
    assert header.payload == document
    assert (header.sender.identifier, header.receiver.identifier, header.receiver.name) == ("AA", "BB", "Единое окно BB")
    assert (header.message_id, header.conversation_id, header.agreement_ref) == ("msg-00000001", "conv-msg-00000001",
                                                                                 "AA-BB-2026")
    assert header.created == MOMENT and header.document_type == "certificate-of-origin"


def test_envelope_needs_a_zoned_time() -> None:
    with pytest.raises(InputError) as info:
        build_envelope(b"<a/>", sender=Party("AA"), receiver=Party("BB"), document_type="x", type_version="1",
                       standard="urn:x", created=datetime(2026, 1, 1))
    assert info.value.code is Code.INPUT_FIELD_INVALID


def test_reading_a_non_envelope_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        read_envelope(parse_xml(b"<Envelope/>"))
    assert info.value.code is Code.DOCTYPE_MISMATCH


@pytest.mark.parametrize("status", [ReceiptStatus.RECEIVED, ReceiptStatus.REJECTED])
def test_receipt_round_trip(status: ReceiptStatus) -> None:
    envelope = b"<Envelope>exact bytes</Envelope>"
    reasons = [Finding.of(Code.SIG_DIGEST_MISMATCH, "document-signature", "changed after signing")] if (
        status is ReceiptStatus.REJECTED) else []
    data = build_receipt(ref_to_message_id="msg-00000001", envelope=envelope, issuer=Party("BB", name="乙国单一窗口"),
                         status=status, reasons=reasons, issued=MOMENT)
    report = validate(data)
    assert report.valid and report.document_type == "receipt", report.findings
    receipt = read_receipt(parse_xml(data))
    assert receipt.envelope_digest == envelope_digest(envelope)
    assert receipt.status is status and receipt.ref_to_message_id == "msg-00000001" and receipt.issued == MOMENT
    assert [(r.code, r.severity) for r in receipt.reasons] == [(r.code, Severity.ERROR) for r in reasons]


def test_rejection_without_reason_breaks_a_rule() -> None:
    data = build_receipt(ref_to_message_id="msg-00000001", envelope=b"x", issuer=Party("BB"),
                         status=ReceiptStatus.REJECTED, issued=MOMENT)
    assert validate(data).codes == ("RCT-REASON-01",)


def test_the_builders_take_time_as_an_explicit_input() -> None:
    """No hidden clock: an envelope's creation time and a receipt's issue time are the caller's to give."""
    with pytest.raises(TypeError, match="created"):
        build_envelope(b"<a/>", sender=Party("AA"), receiver=Party("BB"), document_type="x",  # type: ignore[call-arg]
                       type_version="1", standard="urn:x")
    with pytest.raises(TypeError, match="issued"):
        build_receipt(ref_to_message_id="msg-00000001", envelope=b"x", issuer=Party("BB"),  # type: ignore[call-arg]
                      status=ReceiptStatus.RECEIVED)
    pinned = build_envelope(b"<a/>", sender=Party("AA"), receiver=Party("BB"), document_type="x", type_version="1",
                            standard="urn:x", message_id="msg-00000001", created=MOMENT)
    assert read_envelope(parse_xml(pinned)).created == MOMENT
