"""Mutual TLS at the gateway: the refusal of a submission whose connection names no registered party.

With mutual TLS on (``PTX_TLS__CLIENT_CA``, see :mod:`exchange._tls`), ``POST /v1/messages`` first identifies the
TLS client: its certificate must be a country's registered TLS client certificate. That country is passed to the
pipeline as ``transport_party``, and the sender-authentication check refuses an envelope that claims another
sender (``GW-TRANSPORT-IDENTITY``, 403). A connection without a certificate (possible when
``PTX_TLS__REQUIRE_CLIENT_CERT=false`` lets browsers reach the dashboard) or with a certificate that is trusted but
registered for nobody is refused here, before the body is read, with a report of the same shape as any other:
sender-authentication failed, every other check skipped.

==============================  ===========  =================================================================
code                            HTTP         when
==============================  ===========  =================================================================
``GW-TRANSPORT-CERT-MISSING``   401          the connection presented no TLS client certificate
``GW-TRANSPORT-IDENTITY``       403          a certificate registered for no party, or for another sender
==============================  ===========  =================================================================
"""

from __future__ import annotations

from datetime import datetime

from exchange import CheckResult, Code, Finding, TransportIdentity
from gateway._pipeline import CHECK_ORDER, CHECK_SENDER, Outcome
from gateway._status import Verdict


def transport_refusal(identity: TransportIdentity, *, moment: datetime) -> Outcome:
    """The pipeline-shaped answer for a submission refused on its transport identity."""
    code = identity.code or Code.GW_TRANSPORT_IDENTITY
    finding = Finding.of(code, CHECK_SENDER, identity.message)
    checks = tuple(
        CheckResult.from_findings(name, [finding]) if name == CHECK_SENDER else CheckResult.skipped(name)
        for name in CHECK_ORDER
    )
    status = 401 if code is Code.GW_TRANSPORT_CERT_MISSING else 403
    return Outcome(verdict=Verdict.REJECTED, http_status=status, checks=checks, digest="", received_at=moment)


__all__ = ["transport_refusal"]
