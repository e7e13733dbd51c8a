"""One error tree and one catalogue of stable codes.

Every error the project raises descends from :class:`ExchangeError` and carries a :class:`Code`.
Codes are stable, machine-readable strings (``XML-DTD-FORBIDDEN``); API responses, logs, reports and the
dashboard show them, and nothing ever parses the human message.

Error tree::

    ExchangeError                   root: .code (Code), .message, optional .line/.column/.path
    ├── XmlError                    the hardened parser refused the input (DTD, entity, size, depth, malformed)
    ├── InputError                  user-supplied data is wrong (document input fields, CLI arguments)
    ├── ConfigurationError          a schema, manifest, catalogue, workspace or setting is wrong: fail closed
    ├── SignatureError              signing or verifying could not be carried out (not a verdict: verdicts are results)
    ├── TrustError                  PKI, trust list or agreement material is unusable
    └── StoreError                  the durable store failed (locked, full, corrupt)

A *document fault* (an invalid field, a bad signature) is a :class:`~exchange.Finding` in a report, not an
exception. Exceptions are for input that cannot be processed at all, and for programmer or configuration faults.

The catalogue (:class:`Code`) gives each code a severity, a category and a one-line title, in the spirit of
phase4's ``EEbmsError``. Add new codes in the section of their category; never rename or reuse one.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any


class Severity(StrEnum):
    """How serious a finding is. Only ``error`` findings make a verdict invalid."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Category(StrEnum):
    """Broad area a code belongs to."""

    XML = "xml"
    SCHEMA = "schema"
    RULE = "rule"
    INPUT = "input"
    CATALOGUE = "catalogue"
    CONFIG = "config"
    SIGNATURE = "signature"
    TRUST = "trust"
    ENVELOPE = "envelope"
    ROUTING = "routing"
    DELIVERY = "delivery"
    STORE = "store"
    AUDIT = "audit"
    HTTP = "http"


class Code(Enum):
    """Every stable code the project emits, with its severity, category and title.

    The enum value is the code string itself, so ``Code("XML-DTD-FORBIDDEN")`` looks one up.
    """

    severity: Severity
    category: Category
    title: str

    def __new__(cls, code: str, severity: Severity, category: Category, title: str) -> Code:
        member = object.__new__(cls)
        member._value_ = code
        member.severity = severity
        member.category = category
        member.title = title
        return member

    def __str__(self) -> str:
        return str(self.value)

    # --- hardened XML parsing -------------------------------------------------------------------------------
    XML_TOO_LARGE = ("XML-TOO-LARGE", Severity.ERROR, Category.XML, "input exceeds the size limit")
    XML_TOO_DEEP = ("XML-TOO-DEEP", Severity.ERROR, Category.XML, "elements are nested deeper than allowed")
    XML_DTD_FORBIDDEN = ("XML-DTD-FORBIDDEN", Severity.ERROR, Category.XML, "DOCTYPE/DTD is not allowed")
    XML_ENTITY_FORBIDDEN = (
        "XML-ENTITY-FORBIDDEN", Severity.ERROR, Category.XML, "entity declarations and references are not allowed"
    )
    XML_EXTERNAL_FORBIDDEN = (
        "XML-EXTERNAL-FORBIDDEN", Severity.ERROR, Category.XML, "external resources are not loaded"
    )
    XML_XINCLUDE_FORBIDDEN = ("XML-XINCLUDE-FORBIDDEN", Severity.ERROR, Category.XML, "XInclude is not allowed")
    XML_ENCODING = ("XML-ENCODING", Severity.ERROR, Category.XML, "input is not correctly encoded")
    XML_MALFORMED = ("XML-MALFORMED", Severity.ERROR, Category.XML, "input is not well-formed XML")
    XML_EMPTY = ("XML-EMPTY", Severity.ERROR, Category.XML, "input is empty")
    XML_LIMIT = ("XML-LIMIT", Severity.ERROR, Category.XML, "input exceeds a parser limit")
    XML_ENCODING_FORBIDDEN = (
        "XML-ENCODING-FORBIDDEN", Severity.ERROR, Category.XML,
        "input is in an encoding other than UTF-8 or UTF-16 (UTF-7, ISO-8859-x, EBCDIC, UCS-4, ...)",
    )
    XML_BOM_MISMATCH = (
        "XML-BOM-MISMATCH", Severity.ERROR, Category.XML,
        "the byte-order mark contradicts the encoding declaration, or UTF-16 lacks its byte-order mark",
    )
    XML_VERSION_FORBIDDEN = (
        "XML-VERSION-FORBIDDEN", Severity.ERROR, Category.XML,
        "the XML declaration names a version other than 1.0 (XML 1.1 is not part of the profile)",
    )

    # --- HTTP: what the services' server refuses before any application code runs (exchange/services/_server.py) -----
    HTTP_MALFORMED = (
        "HTTP-MALFORMED", Severity.ERROR, Category.HTTP,
        "the request is not valid HTTP/1.1 (request line, header syntax, Content-Length, Transfer-Encoding, chunks)",
    )
    HTTP_HEADERS_TOO_LARGE = (
        "HTTP-HEADERS-TOO-LARGE", Severity.ERROR, Category.HTTP, "the request line and headers exceed the size limit"
    )
    HTTP_HEADERS_TOO_MANY = (
        "HTTP-HEADERS-TOO-MANY", Severity.ERROR, Category.HTTP, "the request has more header fields than allowed"
    )
    HTTP_HEADERS_TIMEOUT = (
        "HTTP-HEADERS-TIMEOUT", Severity.ERROR, Category.HTTP, "the request's headers did not arrive in time"
    )
    HTTP_BODY_INCOMPLETE = (
        "HTTP-BODY-INCOMPLETE", Severity.ERROR, Category.HTTP,
        "the body ended or stalled before the length its Content-Length or chunked framing announced",
    )
    HTTP_BODY_TIMEOUT = (
        "HTTP-BODY-TIMEOUT", Severity.ERROR, Category.HTTP,
        "the body was not complete within the total time allowed for it (a slow drip of bytes)",
    )
    HTTP_UPGRADE_REFUSED = (
        "HTTP-UPGRADE-REFUSED", Severity.ERROR, Category.HTTP,
        "the services speak HTTP/1.1 only: a protocol upgrade (h2c, WebSocket) or CONNECT is refused",
    )

    # --- schema (XSD) validation ----------------------------------------------------------------------------
    SCHEMA_INVALID = ("SCHEMA-INVALID", Severity.ERROR, Category.SCHEMA, "document does not conform to its schema")
    SCHEMA_ELEMENT_UNEXPECTED = (
        "SCHEMA-ELEMENT-UNEXPECTED", Severity.ERROR, Category.SCHEMA, "element not allowed here"
    )
    SCHEMA_ELEMENT_MISSING = ("SCHEMA-ELEMENT-MISSING", Severity.ERROR, Category.SCHEMA, "required element missing")
    SCHEMA_VALUE_INVALID = (
        "SCHEMA-VALUE-INVALID", Severity.ERROR, Category.SCHEMA, "value does not match its datatype or facet"
    )
    SCHEMA_ATTRIBUTE_INVALID = (
        "SCHEMA-ATTRIBUTE-INVALID", Severity.ERROR, Category.SCHEMA, "attribute missing, unexpected or invalid"
    )
    SCHEMA_ROOT_UNEXPECTED = (
        "SCHEMA-ROOT-UNEXPECTED", Severity.ERROR, Category.SCHEMA, "root element is not the one the schema declares"
    )
    SCHEMA_ERRORS_TRUNCATED = (
        "SCHEMA-ERRORS-TRUNCATED", Severity.ERROR, Category.SCHEMA,
        "more schema errors than are listed: one finding counts the rest",
    )

    # --- business rules (Schematron) ------------------------------------------------------------------------
    RULE_FAILED = ("RULE-FAILED", Severity.ERROR, Category.RULE, "a business rule without its own code failed")
    RULE_WARNING = ("RULE-WARNING", Severity.WARNING, Category.RULE, "a business rule reported a warning")

    # --- catalogue and document types -------------------------------------------------------------------------
    DOCTYPE_UNKNOWN = (
        "DOCTYPE-UNKNOWN", Severity.ERROR, Category.CATALOGUE, "no catalogue type matches the root element"
    )
    DOCTYPE_MISMATCH = (
        "DOCTYPE-MISMATCH", Severity.ERROR, Category.CATALOGUE, "document root does not match the requested type"
    )
    DOCTYPE_NOT_TRADE = (
        "DOCTYPE-NOT-TRADE", Severity.ERROR, Category.CATALOGUE,
        "only trade document types may be an envelope's payload; protocol types (envelope, receipt, trust list) never",
    )
    CATALOGUE_MANIFEST_INVALID = (
        "CATALOGUE-MANIFEST-INVALID", Severity.ERROR, Category.CATALOGUE, "a document type manifest is invalid"
    )
    CATALOGUE_DUPLICATE = (
        "CATALOGUE-DUPLICATE", Severity.ERROR, Category.CATALOGUE, "two document types share an id or root"
    )
    SCHEMA_LOAD_FAILED = ("SCHEMA-LOAD-FAILED", Severity.ERROR, Category.CONFIG, "a schema could not be compiled")
    RULES_LOAD_FAILED = ("RULES-LOAD-FAILED", Severity.ERROR, Category.CONFIG, "Schematron rules could not be compiled")
    RULES_RUN_FAILED = (
        "RULES-RUN-FAILED", Severity.ERROR, Category.CONFIG,
        "a rules file failed while running on a document (a dynamic XSLT error, the engine process ended): never a pass",
    )
    RULES_LIMIT_EXCEEDED = (
        "RULES-LIMIT-EXCEEDED", Severity.ERROR, Category.CONFIG,
        "compiling or running a rules file took longer or more memory than its limit (the engine process was ended)",
    )
    RULES_FORBIDDEN = (
        "RULES-FORBIDDEN", Severity.ERROR, Category.CONFIG,
        "a rules file uses a construct that reads or writes outside the document (doc(), unparsed-text(), "
        "environment-variable(), xsl:result-document, xsl:evaluate, ...): rules are code and are confined",
    )
    RULES_ENGINE_UNAVAILABLE = (
        "RULES-ENGINE-UNAVAILABLE", Severity.ERROR, Category.CONFIG,
        "rules need the XSLT 2/3 engine (saxonche), which is not installed or does not start",
    )
    SCENARIOS_INVALID = (
        "SCENARIOS-INVALID", Severity.ERROR, Category.CONFIG,
        "a scenario file is invalid (YAML, an unknown key, a missing schema or rules file, a bad XPath)",
    )
    SCENARIO_NO_MATCH = (
        "SCENARIO-NO-MATCH", Severity.ERROR, Category.CATALOGUE,
        "no validation scenario matches the document (root element, namespace, XPath)",
    )

    # --- user input -----------------------------------------------------------------------------------------
    INPUT_INVALID = ("INPUT-INVALID", Severity.ERROR, Category.INPUT, "input data is invalid")
    INPUT_FIELD_UNKNOWN = ("INPUT-FIELD-UNKNOWN", Severity.ERROR, Category.INPUT, "input has a field not in the type")
    INPUT_FIELD_MISSING = ("INPUT-FIELD-MISSING", Severity.ERROR, Category.INPUT, "a required input field is missing")
    INPUT_FIELD_INVALID = ("INPUT-FIELD-INVALID", Severity.ERROR, Category.INPUT, "an input field has a bad value")
    INPUT_UNREADABLE = ("INPUT-UNREADABLE", Severity.ERROR, Category.INPUT, "input file cannot be read or decoded")
    CONFIG_INVALID = ("CONFIG-INVALID", Severity.ERROR, Category.CONFIG, "configuration is invalid or missing")

    # --- private keys at rest (exchange/_keystore.py) ------------------------------------------------------
    KEY_PASSPHRASE_REQUIRED = (
        "KEY-PASSPHRASE-REQUIRED", Severity.ERROR, Category.CONFIG,
        "a private key is encrypted and no passphrase is set (PTX_KEY_PASSPHRASE, or a prompt on a terminal)",
    )
    KEY_PASSPHRASE_WRONG = (
        "KEY-PASSPHRASE-WRONG", Severity.ERROR, Category.CONFIG,
        "the passphrase does not open an encrypted private key (or the key file is damaged)",
    )
    KEY_UNREADABLE = (
        "KEY-UNREADABLE", Severity.ERROR, Category.CONFIG, "a private key file cannot be read (missing, no permission)"
    )

    # --- signatures (XML-DSig) ------------------------------------------------------------------------------
    SIG_MISSING = ("SIG-MISSING", Severity.ERROR, Category.SIGNATURE, "no signature where one is required")
    SIG_DIGEST_MISMATCH = (
        "SIG-DIGEST-MISMATCH", Severity.ERROR, Category.SIGNATURE, "signed content changed after signing"
    )
    SIG_VALUE_INVALID = ("SIG-VALUE-INVALID", Severity.ERROR, Category.SIGNATURE, "signature value does not verify")
    SIG_ALGORITHM_WEAK = (
        "SIG-ALGORITHM-WEAK", Severity.ERROR, Category.SIGNATURE, "algorithm refused by policy as too weak (e.g. SHA-1)"
    )
    SIG_ALGORITHM_UNSUPPORTED = (
        "SIG-ALGORITHM-UNSUPPORTED", Severity.ERROR, Category.SIGNATURE, "algorithm not supported by the profile"
    )
    SIG_STRUCTURE = (
        "SIG-STRUCTURE", Severity.ERROR, Category.SIGNATURE, "unexpected signature structure (possible wrapping)"
    )
    SIG_TRANSFORM_FORBIDDEN = (
        "SIG-TRANSFORM-FORBIDDEN", Severity.ERROR, Category.SIGNATURE, "transform not allowed (XSLT, XPath, ...)"
    )
    SIG_REFERENCE_FORBIDDEN = (
        "SIG-REFERENCE-FORBIDDEN", Severity.ERROR, Category.SIGNATURE, "reference must cover the whole document"
    )
    SIG_KEYINFO_INVALID = (
        "SIG-KEYINFO-INVALID", Severity.ERROR, Category.SIGNATURE, "KeyInfo has no usable certificate"
    )
    SIG_KEY_WEAK = ("SIG-KEY-WEAK", Severity.ERROR, Category.SIGNATURE, "signing key too small for the policy")
    SIG_KEY_MISMATCH = (
        "SIG-KEY-MISMATCH", Severity.ERROR, Category.SIGNATURE,
        "certificate key does not fit the signature method or the signing key",
    )
    SIG_ALREADY_SIGNED = (
        "SIG-ALREADY-SIGNED", Severity.ERROR, Category.SIGNATURE, "document already carries an enveloped signature"
    )
    SIG_C14N_FAILED = (
        "SIG-C14N-FAILED", Severity.ERROR, Category.SIGNATURE,
        "document cannot be canonicalised (e.g. a relative namespace URI)",
    )
    SIG_COMMENT_IN_TEXT = (
        "SIG-COMMENT-IN-TEXT", Severity.ERROR, Category.SIGNATURE,
        "a comment splits signed text: comments are not signed, so a reader could see other text than was signed",
    )
    SIG_CDATA_IN_TEXT = (
        "SIG-CDATA-IN-TEXT", Severity.ERROR, Category.SIGNATURE,
        "a CDATA section in signed content: C14N dissolves it, so a reader could see other text nodes than were signed",
    )

    # --- trust: chains, revocation, authorisation -----------------------------------------------------------
    TRUST_CHAIN_UNTRUSTED = (
        "TRUST-CHAIN-UNTRUSTED", Severity.ERROR, Category.TRUST, "signer does not chain to a recognised anchor"
    )
    TRUST_CERT_EXPIRED = (
        "TRUST-CERT-EXPIRED", Severity.ERROR, Category.TRUST, "a certificate had expired at the time of evaluation"
    )
    TRUST_CERT_NOT_YET_VALID = (
        "TRUST-CERT-NOT-YET-VALID", Severity.ERROR, Category.TRUST, "a certificate was not yet valid at that time"
    )
    TRUST_CERT_REVOKED = ("TRUST-CERT-REVOKED", Severity.ERROR, Category.TRUST, "a certificate is revoked")
    TRUST_REVOCATION_UNKNOWN = (
        "TRUST-REVOCATION-UNKNOWN", Severity.ERROR, Category.TRUST, "no current CRL to check revocation against"
    )
    TRUST_KEY_USAGE = (
        "TRUST-KEY-USAGE", Severity.ERROR, Category.TRUST, "certificate key usage does not allow this signature"
    )
    TRUST_ISSUER_NOT_AUTHORISED = (
        "TRUST-ISSUER-NOT-AUTHORISED", Severity.ERROR, Category.TRUST, "issuer not authorised for this document type"
    )
    TRUST_LIST_EXPIRED = ("TRUST-LIST-EXPIRED", Severity.ERROR, Category.TRUST, "trust list is past its next update")
    TRUST_LIST_SIGNATURE = (
        "TRUST-LIST-SIGNATURE", Severity.ERROR, Category.TRUST, "trust list signature is missing or invalid"
    )
    TRUST_LIST_INVALID = ("TRUST-LIST-INVALID", Severity.ERROR, Category.TRUST, "trust list cannot be read")
    TRUST_LIST_ROLLBACK = (
        "TRUST-LIST-ROLLBACK", Severity.ERROR, Category.TRUST,
        "trust list is older (lower SequenceNumber) than the one already held: a replay is refused",
    )
    TRUST_LIST_SEQUENCE_REUSED = (
        "TRUST-LIST-SEQUENCE-REUSED", Severity.ERROR, Category.TRUST,
        "trust list has the SequenceNumber of the one held but other content (a fork of the list)",
    )
    TRUST_NOT_RECOGNISED = (
        "TRUST-NOT-RECOGNISED", Severity.ERROR, Category.TRUST, "no agreement recognises this issuer's trust list"
    )
    PKI_INVALID = ("PKI-INVALID", Severity.ERROR, Category.TRUST, "key or certificate material is unusable")

    # --- public packages and signed agreements (what crosses a border) ------------------------------------
    PACKAGE_INVALID = (
        "PACKAGE-INVALID", Severity.ERROR, Category.TRUST, "a country package cannot be read (not a signed package)"
    )
    PACKAGE_ANCHOR_MISMATCH = (
        "PACKAGE-ANCHOR-MISMATCH", Severity.ERROR, Category.TRUST,
        "the package's anchor is not the one whose fingerprint was given out of band",
    )
    PACKAGE_SIGNATURE_INVALID = (
        "PACKAGE-SIGNATURE-INVALID", Severity.ERROR, Category.TRUST,
        "the package's signature does not verify under its country's anchor",
    )
    PACKAGE_ROLLBACK = (
        "PACKAGE-ROLLBACK", Severity.ERROR, Category.TRUST,
        "the package is older (lower sequence) than the one held: a replay is refused",
    )
    PACKAGE_SEQUENCE_REUSED = (
        "PACKAGE-SEQUENCE-REUSED", Severity.ERROR, Category.TRUST,
        "the package has the sequence of the one held but other content (a fork)",
    )
    PACKAGE_EXPIRED = (
        "PACKAGE-EXPIRED", Severity.ERROR, Category.TRUST, "the package's trust list is outside its validity period"
    )
    AGREEMENT_INVALID = (
        "AGREEMENT-INVALID", Severity.ERROR, Category.TRUST, "an agreement cannot be read (not a signed agreement)"
    )
    AGREEMENT_SIGNATURE_INVALID = (
        "AGREEMENT-SIGNATURE-INVALID", Severity.ERROR, Category.TRUST,
        "an agreement's signature does not verify, or its signer does not chain to the party's anchor",
    )
    AGREEMENT_UNSIGNED = (
        "AGREEMENT-UNSIGNED", Severity.ERROR, Category.TRUST, "an agreement lacks the signature of one of its parties"
    )
    AGREEMENT_PARTY_UNKNOWN = (
        "AGREEMENT-PARTY-UNKNOWN", Severity.ERROR, Category.TRUST,
        "an agreement names a party whose public package this folder does not hold, or another anchor for it",
    )
    TRUST_AUTHORISATION_UNCHECKED = (
        "TRUST-AUTHORISATION-UNCHECKED", Severity.INFO, Category.TRUST,
        "anchor configured without a trust list: issuer authorisation was not checked",
    )

    # --- store ------------------------------------------------------------------------------------------------
    STORE_UNAVAILABLE = ("STORE-UNAVAILABLE", Severity.ERROR, Category.STORE, "the store cannot be written")
    STORE_LOCKED = (
        "STORE-LOCKED", Severity.ERROR, Category.STORE,
        "the store stayed locked by another writer past the busy timeout (or a lock conflict aborted the write)",
    )
    STORE_FULL = ("STORE-FULL", Severity.ERROR, Category.STORE, "the store's disk or quota is full")
    STORE_CORRUPT = (
        "STORE-CORRUPT", Severity.ERROR, Category.STORE, "the store's file is damaged or is not a database"
    )
    STORE_SCHEMA = (
        "STORE-SCHEMA", Severity.ERROR, Category.STORE,
        "the store's schema is not at this version's revision (migrate it) or was migrated by a newer version",
    )

    # --- gateway: duplicates, statuses, delivery, receipts ------------------------------------------------------
    GW_DUPLICATE_CONFLICT = (
        "GW-DUPLICATE-CONFLICT", Severity.ERROR, Category.ENVELOPE,
        "message id already used for an envelope with other bytes",
    )
    GW_DUPLICATE_RESEND = (
        "GW-DUPLICATE-RESEND", Severity.INFO, Category.ENVELOPE,
        "identical resend of an earlier message (same id, same bytes): the earlier answer is returned",
    )
    GW_MESSAGE_UNKNOWN = ("GW-MESSAGE-UNKNOWN", Severity.ERROR, Category.INPUT, "no message with this id")
    GW_RETRY_NOT_ALLOWED = (
        "GW-RETRY-NOT-ALLOWED", Severity.ERROR, Category.DELIVERY, "only a FAILED message can be retried"
    )
    GW_STATUS_TRANSITION = (
        "GW-STATUS-TRANSITION", Severity.ERROR, Category.STORE,
        "illegal message status transition (a programmer error)",
    )
    GW_LEASE_LOST = (
        "GW-LEASE-LOST", Severity.ERROR, Category.DELIVERY,
        "the delivery lease expired or was taken over before the attempt was recorded",
    )
    GW_DELIVERY_TIMEOUT = ("GW-DELIVERY-TIMEOUT", Severity.ERROR, Category.DELIVERY, "receiver did not answer in time")
    GW_DELIVERY_UNREACHABLE = (
        "GW-DELIVERY-UNREACHABLE", Severity.ERROR, Category.DELIVERY, "receiver could not be reached"
    )
    GW_DELIVERY_RECEIVER_ERROR = (
        "GW-DELIVERY-RECEIVER-ERROR", Severity.ERROR, Category.DELIVERY,
        "receiver answered with a status worth retrying (5xx, 408, 425, 429)",
    )
    GW_DELIVERY_REFUSED = (
        "GW-DELIVERY-REFUSED", Severity.ERROR, Category.DELIVERY,
        "receiver answered with a status not worth retrying (other 4xx, 409 included; 3xx)",
    )
    GW_DELIVERY_INTERNAL = (
        "GW-DELIVERY-INTERNAL", Severity.ERROR, Category.DELIVERY, "the delivery hook failed unexpectedly"
    )
    GW_DELIVERY_ATTEMPTS_EXHAUSTED = (
        "GW-DELIVERY-ATTEMPTS-EXHAUSTED", Severity.ERROR, Category.DELIVERY,
        "delivery gave up after the maximum number of attempts (dead letter)",
    )
    GW_DELIVERY_EXPIRED = (
        "GW-DELIVERY-EXPIRED", Severity.ERROR, Category.DELIVERY,
        "delivery gave up because the message is older than the maximum age (dead letter)",
    )
    GW_RECEIPT_MISSING = (
        "GW-RECEIPT-MISSING", Severity.ERROR, Category.INPUT, "the gateway holds no verified receipt for the message yet"
    )
    GW_REJECTION_MISSING = (
        "GW-REJECTION-MISSING", Severity.ERROR, Category.INPUT,
        "the message was not rejected at submission: there is no rejection report for it",
    )
    GW_RECEIPT_INVALID = (
        "GW-RECEIPT-INVALID", Severity.ERROR, Category.DELIVERY,
        "receipt refused: signature, signer, message id or digest does not match what was delivered",
    )

    # --- audit --------------------------------------------------------------------------------------------------
    AUDIT_CHAIN_BROKEN = (
        "AUDIT-CHAIN-BROKEN", Severity.ERROR, Category.AUDIT,
        "the audit log's hash chain does not verify (an entry was changed, inserted or deleted)",
    )

    # --- gateway pipeline: media type, sender authentication, routing ----------------------------------------
    GW_MEDIA_TYPE = ("GW-MEDIA-TYPE", Severity.ERROR, Category.ENVELOPE, "the body must be application/xml")
    GW_CONFIG_FAULT = (
        "GW-CONFIG-FAULT", Severity.ERROR, Category.CONFIG,
        "the gateway's own trust material or configuration (a trust list, CRL or agreement on its disk) is unusable: "
        "the message was not judged and is not at fault; send it again once an operator has repaired it (HTTP 503)",
    )
    GW_SENDER_UNKNOWN = (
        "GW-SENDER-UNKNOWN", Severity.ERROR, Category.ENVELOPE, "no single-window node is registered for the sender id"
    )
    GW_SENDER_NOT_AUTHENTICATED = (
        "GW-SENDER-NOT-AUTHENTICATED", Severity.ERROR, Category.ENVELOPE,
        "the envelope signature is missing or does not verify",
    )
    GW_SENDER_MISMATCH = (
        "GW-SENDER-MISMATCH", Severity.ERROR, Category.ENVELOPE,
        "the envelope is signed by a node other than the one registered for the sender id (spoofing)",
    )
    GW_SENDER_CERT_INVALID = (
        "GW-SENDER-CERT-INVALID", Severity.ERROR, Category.ENVELOPE,
        "the sending node's certificate is expired, not yet valid or revoked",
    )
    GW_SENDER_CERT_RETIRED = (
        "GW-SENDER-CERT-RETIRED", Severity.ERROR, Category.ENVELOPE,
        "signed with the sender's earlier node certificate after its renewal's overlap ended",
    )
    GW_TRANSPORT_IDENTITY = (
        "GW-TRANSPORT-IDENTITY", Severity.ERROR, Category.ENVELOPE,
        "the TLS client certificate does not belong to the sender named in the envelope",
    )
    GW_TRANSPORT_CERT_MISSING = (
        "GW-TRANSPORT-CERT-MISSING", Severity.ERROR, Category.ENVELOPE,
        "mutual TLS is on: a submission must come with a TLS client certificate",
    )
    # who may read what at the gateway (gateway/_access.py)
    GW_READ_NOT_AUTHENTICATED = (
        "GW-READ-NOT-AUTHENTICATED", Severity.ERROR, Category.INPUT,
        "a message read needs the node's TLS client certificate, a request signed with its node key (RFC 9421), "
        "or the operator's token; none was presented, or the one presented does not hold",
    )
    GW_READ_FORBIDDEN = (
        "GW-READ-FORBIDDEN", Severity.ERROR, Category.INPUT,
        "the authenticated node is neither the sender nor the receiver of a message with this id",
    )
    GW_OPERATOR_REQUIRED = (
        "GW-OPERATOR-REQUIRED", Severity.ERROR, Category.INPUT,
        "the message list of all parties, the audit log, retry and a dashboard not bound to loopback need the "
        "operator's token (gateway/operator.token in the gateway's folder)",
    )
    GW_RECEIVER_UNKNOWN = ("GW-RECEIVER-UNKNOWN", Severity.ERROR, Category.ROUTING, "the receiver is not a known party")
    GW_SELF_ADDRESSED = (
        "GW-SELF-ADDRESSED", Severity.ERROR, Category.ROUTING,
        "sender and receiver are the same party (no longer emitted: the envelope rule ENV-PARTY-01 reports it)",
    )
    GW_NO_AGREEMENT = (
        "GW-NO-AGREEMENT", Severity.ERROR, Category.ROUTING,
        "no agreement in force lets this sender send this document type to this receiver",
    )
    GW_PARTY_SCHEME = (
        "GW-PARTY-SCHEME", Severity.ERROR, Category.ROUTING, "party identifier scheme not supported"
    )
    GW_DELIVERY_NOT_AUTHENTICATED = (
        "GW-DELIVERY-NOT-AUTHENTICATED", Severity.ERROR, Category.DELIVERY,
        "the delivery does not carry a valid signature of the gateway",
    )
    GW_PAYLOAD_MISMATCH = (
        "GW-PAYLOAD-MISMATCH", Severity.ERROR, Category.ENVELOPE,
        "the payload's root or version does not match the document type named in the envelope",
    )
    GW_ROUTE_MISMATCH = (
        "GW-ROUTE-MISMATCH", Severity.ERROR, Category.ROUTING,
        "the envelope's receivers are not the countries after the origin on the document's route, or the sender "
        "is not its origin (only a document with a route goes to several receivers)",
    )

    GW_TRUST_INDETERMINATE = (
        "GW-TRUST-INDETERMINATE", Severity.ERROR, Category.TRUST,
        "the gateway could not determine whether a certificate can be relied on (e.g. revocation status unknown); "
        "its policy refuses what it cannot determine",
    )

    # --- gateway: the ePhyto hub interface (SOAP 1.1, gateway/_ephyto.py) -------------------------------------
    EPHYTO_SOAP_MALFORMED = (
        "EPHYTO-SOAP-MALFORMED", Severity.ERROR, Category.HTTP,
        "the request is not a SOAP 1.1 envelope with one operation in its body",
    )
    EPHYTO_OPERATION_UNKNOWN = (
        "EPHYTO-OPERATION-UNKNOWN", Severity.ERROR, Category.HTTP,
        "the hub interface does not implement this operation",
    )
    EPHYTO_FIELD_MISSING = (
        "EPHYTO-FIELD-MISSING", Severity.ERROR, Category.ENVELOPE, "a required field of the hub request is missing",
    )
    EPHYTO_CONTENT_INVALID = (
        "EPHYTO-CONTENT-INVALID", Severity.ERROR, Category.ENVELOPE,
        "the hub envelope's Content is not a base64-encoded certificate",
    )
    EPHYTO_HEADER_MISMATCH = (
        "EPHYTO-HEADER-MISMATCH", Severity.ERROR, Category.ENVELOPE,
        "the hub envelope's header (From, To, CertificateType, CertificateStatus, NPPOCertificateNumber) "
        "contradicts the certificate it carries",
    )
    EPHYTO_ENVELOPE_UNKNOWN = (
        "EPHYTO-ENVELOPE-UNKNOWN", Severity.ERROR, Category.DELIVERY,
        "no envelope with this hub delivery number is addressed to or sent by the calling NPPO",
    )

    # --- node: the same checks decided by the receiving single window (twins of the GW-* codes above) --------
    NODE_SENDER_UNKNOWN = (
        "NODE-SENDER-UNKNOWN", Severity.ERROR, Category.ENVELOPE, "this node knows no single-window node for the sender id"
    )
    NODE_SENDER_NOT_AUTHENTICATED = (
        "NODE-SENDER-NOT-AUTHENTICATED", Severity.ERROR, Category.ENVELOPE,
        "the envelope signature is missing or does not verify",
    )
    NODE_SENDER_MISMATCH = (
        "NODE-SENDER-MISMATCH", Severity.ERROR, Category.ENVELOPE,
        "the envelope is signed by a node other than the one this node knows for the sender id (spoofing)",
    )
    NODE_SENDER_CERT_INVALID = (
        "NODE-SENDER-CERT-INVALID", Severity.ERROR, Category.ENVELOPE,
        "this node's trust does not let it rely on the sending node's certificate for envelopes",
    )
    NODE_SENDER_CERT_RETIRED = (
        "NODE-SENDER-CERT-RETIRED", Severity.ERROR, Category.ENVELOPE,
        "signed with the sender's earlier node certificate after its renewal's overlap ended",
    )
    NODE_SENDER_RELAYED = (
        "NODE-SENDER-RELAYED", Severity.INFO, Category.ENVELOPE,
        "the gateway signed the envelope for a sender that used its ePhyto hub interface (identified there by its "
        "TLS client certificate); the document's own signature and issuer are checked as for any envelope",
    )
    NODE_NO_AGREEMENT = (
        "NODE-NO-AGREEMENT", Severity.ERROR, Category.ROUTING,
        "no agreement of this node's country in force lets this sender send this document type to it",
    )
    NODE_PARTY_SCHEME = ("NODE-PARTY-SCHEME", Severity.ERROR, Category.ROUTING, "party identifier scheme not supported")
    NODE_PAYLOAD_MISMATCH = (
        "NODE-PAYLOAD-MISMATCH", Severity.ERROR, Category.ENVELOPE,
        "the payload's root or version does not match the document type named in the envelope",
    )
    NODE_ROUTE_MISMATCH = (
        "NODE-ROUTE-MISMATCH", Severity.ERROR, Category.ROUTING,
        "the envelope's receivers are not the countries after the origin on the document's route, or the sender "
        "is not its origin (only a document with a route goes to several receivers)",
    )
    NODE_TRUST_INDETERMINATE = (
        "NODE-TRUST-INDETERMINATE", Severity.ERROR, Category.TRUST,
        "this node could not determine whether a certificate can be relied on (e.g. revocation status unknown); "
        "its policy refuses what it cannot determine",
    )

    # --- node: the single window's inbox, outbox and its calls to the gateway -----------------------------------
    NODE_NOT_ADDRESSEE = (
        "NODE-NOT-ADDRESSEE", Severity.ERROR, Category.ROUTING, "the envelope is addressed to another party"
    )
    NODE_DELIVERY_MISMATCH = (
        "NODE-DELIVERY-MISMATCH", Severity.ERROR, Category.DELIVERY,
        "the envelope's message id is not the one the gateway signed the delivery for",
    )
    NODE_DUPLICATE_CONFLICT = (
        "NODE-DUPLICATE-CONFLICT", Severity.ERROR, Category.DELIVERY,
        "message id already used here for other bytes (or another request)",
    )
    NODE_MESSAGE_UNKNOWN = (
        "NODE-MESSAGE-UNKNOWN", Severity.ERROR, Category.INPUT, "no message with this id at this node"
    )
    NODE_DOCUMENT_REJECTED = (
        "NODE-DOCUMENT-REJECTED", Severity.ERROR, Category.INPUT,
        "the message was rejected: its payload is kept as evidence, not served as a document",
    )
    NODE_ISSUER_FOREIGN = (
        "NODE-ISSUER-FOREIGN", Severity.ERROR, Category.INPUT,
        "a node signs only as an issuing authority of its own country",
    )
    NODE_DEMO_ONLY = (
        "NODE-DEMO-ONLY", Severity.ERROR, Category.INPUT,
        "a demo switch (tamper) was used on a node not started in demo mode (PTX_NODE_DEMO)",
    )
    NODE_GATEWAY_UNREACHABLE = (
        "NODE-GATEWAY-UNREACHABLE", Severity.ERROR, Category.DELIVERY,
        "the gateway could not be reached or did not answer in time",
    )
    NODE_GATEWAY_ERROR = (
        "NODE-GATEWAY-ERROR", Severity.ERROR, Category.DELIVERY,
        "the gateway answered with an unexpected status or body",
    )
    NODE_REJECTION_INVALID = (
        "NODE-REJECTION-INVALID", Severity.ERROR, Category.DELIVERY,
        "the gateway's rejection report does not verify: signature, signer, message id or digest of what was sent",
    )
    NODE_RECEIPT_INVALID = (
        "NODE-RECEIPT-INVALID", Severity.ERROR, Category.DELIVERY,
        "receipt refused: signature, signer, message id or digest does not match what this node sent",
    )
    NODE_TRANSPORT_IDENTITY = (
        "NODE-TRANSPORT-IDENTITY", Severity.ERROR, Category.DELIVERY,
        "mutual TLS is on: a delivery must come with the gateway's registered TLS client certificate",
    )


class ExchangeError(Exception):
    """Root of every error the project raises. Carries a stable :class:`Code`."""

    default_code: Code = Code.CONFIG_INVALID

    def __init__(
        self,
        message: str,
        *,
        code: Code | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code: Code = code or self.default_code
        self.message = message
        self.line = line
        self.column = column
        self.path = path

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f" (line {self.line}" + (f", column {self.column}" if self.column is not None else "") + ")"
        return f"{self.code.value}: {self.message}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "severity": self.code.severity.value,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }


class XmlError(ExchangeError):
    """The hardened parser refused the input."""

    default_code = Code.XML_MALFORMED


class InputError(ExchangeError):
    """User-supplied data is wrong."""

    default_code = Code.INPUT_INVALID


class ConfigurationError(ExchangeError):
    """A schema, manifest, catalogue, workspace or setting is wrong."""

    default_code = Code.CONFIG_INVALID


class SignatureError(ExchangeError):
    """Signing or verifying could not be carried out at all."""

    default_code = Code.SIG_STRUCTURE


class TrustError(ExchangeError):
    """PKI, trust list or agreement material is unusable."""

    default_code = Code.TRUST_LIST_INVALID


class StoreError(ExchangeError):
    """The durable store failed."""

    default_code = Code.STORE_UNAVAILABLE


__all__ = [
    "Category",
    "Code",
    "ConfigurationError",
    "ExchangeError",
    "InputError",
    "Severity",
    "SignatureError",
    "StoreError",
    "TrustError",
    "XmlError",
]
