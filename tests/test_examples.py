"""Every workshop exercise in examples/ runs with its one command, from any directory, and prints the outcomes it
teaches (codes, verdicts, statuses); services it starts are stopped and its work folder is removed."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.testing.processes import free_port
from tests.support.needs import require

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
VENV_BIN = Path(sys.executable).parent

#: exercise folder -> lines its output must contain (besides the closing "Done: exercise NN went as expected.")
EXPECTED: dict[str, list[str]] = {
    "01-build-a-document": [
        "issued certificate-of-origin: ", "valid -> coo.xml", "<TypeCode>861</TypeCode>",
        "INPUT-FIELD-UNKNOWN", "did you mean 'Name'?", "nothing written",
    ],
    "02-validate-and-read-the-report": [
        "valid   coo.xml (certificate-of-origin)", "INVALID coo-with-problems.xml (certificate-of-origin)",
        "COO-HS-01", "COO-COUNTRY-02", "COO-MASS-01", '"verdict": "invalid"', "warning COO-ORIGIN-03",
    ],
    "03-fix-an-invalid-document": [
        "SCHEMA-VALUE-INVALID", "COO-HS-01", "COO-MASS-01", "valid   coo-to-fix.xml (certificate-of-origin)",
        "IncludedSupplyChainTradeLineItem[0].ClassificationCode",
    ],
    "04-sign-and-inspect": [
        "signed coo.xml as AA Chamber of Commerce -> coo.signed.xml", "xmldsig-more#ecdsa-sha256",
        "covers the whole document except this signature element", "cryptographic check: valid",
        "valid   coo.signed.xml (certificate-of-origin)", "xmldsig-more#rsa-sha256",
    ],
    "05-verify-and-tamper": [
        "VALID coo.signed.xml", "INVALID tampered.xml", "SIG-DIGEST-MISMATCH", "INVALID forged.xml",
        "SIG-VALUE-INVALID", "VALID reformatted.xml",
    ],
    "06-trust-and-mutual-recognition": [
        "signature verified", "VALID coo.signed.xml", "TRUST-ISSUER-NOT-AUTHORISED", "TRUST-CHAIN-UNTRUSTED",
        "imported the trust list of CC", "TRUST-NOT-RECOGNISED", "INVALID coo.signed.xml",
        "BB recognises AA for commercial-invoice", "AGREEMENT-SIGNATURE-INVALID",
    ],
    "07-send-through-the-gateway": [
        ": ACCEPTED", "ACKNOWLEDGED  (receipt verified by this node)", "ACCEPTED  all checks passed",
        "issuer-trust passed", ": REJECTED", "document-signature: SIG-DIGEST-MISMATCH",
        "certificate-of-origin  RECEIVED", "stopped gateway, AA, BB",
    ],
    "08-read-the-receipt": [
        "ACKNOWLEDGED", "<StatusCode>RECEIVED</StatusCode>", "VALID receipt.xml", "signer         BB Single Window",
        "The same digest", "INVALID changed-receipt.xml", "SIG-DIGEST-MISMATCH", "stopped gateway, AA, BB",
    ],
    "09-revoke-an-issuer": [
        "revoked AA Chamber of Commerce", "AA trust list sequence 2", "REVOKED", "issuer-trust: TRUST-CERT-REVOKED",
        "TRUST-CERT-REVOKED", "revoked AA Customs", "VALID customs-signed-before.xml", "stopped gateway, AA, BB",
    ],
    "16-transit-route": [
        "AA -> CC, BB", "acknowledged 2/2", "CC  ACKNOWLEDGED", "BB  ACKNOWLEDGED", "receipt of CC: verified by AA",
        "CC -> AA, BB",
        "routing: GW-NO-AGREEMENT", "to EE", "EE's inbox is empty", "stopped gateway, AA, CC, BB, EE",
    ],
    "10-caught-at-the-gateway": [
        "document-schema: SCHEMA-ELEMENT-MISSING", "document-rules: COO-MASS-01",
        "issuer-trust: TRUST-ISSUER-NOT-AUTHORISED", "DOCTYPE-UNKNOWN", "HTTP 200", "HTTP 409",
        "REJECTED REJECTED GW-DUPLICATE-CONFLICT", "stopped gateway, AA, BB",
    ],
    "11-verify-the-audit-log": [
        "message.accepted", "receipt.acknowledged", "message.rejected", "audit chain verifies: 3 entries",
        "AUDIT-CHAIN-BROKEN at entry 3", "stopped gateway, AA, BB",
    ],
    "12-add-your-own-document-type": [
        "DOCTYPE-UNKNOWN", "the folder is not sound", "added fumigation-certificate", "FUM-DATE-01",
        "warning FUM-MB-01", "issued fumigation-certificate", "TRUST-NOT-RECOGNISED", "TRUST-ISSUER-NOT-AUTHORISED",
    ],
    "13-validate-an-official-ubl-document": [
        "valid   coo-ubl.xml", "SCHEMA-VALUE-INVALID", "SCHEMA-ELEMENT-UNEXPECTED", "UBLCOO-MASS-01",
    ],
    "14-ephyto-through-the-hub": [
        "<ram:AttachmentBinaryObject", "valid   ephyto.xml (ephyto-sps-certificate)", "MandatoryElements",
        "EPHYTO-REEXPORT-01", "signed ephyto.xml as AA NPPO", "HUBTrackingInfo: PendingDelivery",
        "ephyto-sps-certificate  RECEIVED", "verified receipt", "HUBTrackingInfo: Delivered", "stopped gateway, AA, BB",
    ],
    "15-two-laptops": [
        "anchor SHA-256 (read this to your partners)", "usb-stick/aa.json:0", "PACKAGE-ANCHOR-MISMATCH",
        "AA (Country AA) imported", "BB admitted", "agreement AA-BB verifies: signed by AA and BB",
        "recognised: certificate-of-origin", "ACKNOWLEDGED  (receipt verified by this node)", "RECEIVER_REJECTED",
    ],
    "17-conformance-kit": [
        "FAIL            node.delivery-unauthenticated", "failed scenarios: node.delivery-unauthenticated",
        "+        problems = verify_delivery(header, body, message_id, gateway, moment=now)",
        "pass            node.delivery-stale", "20 passed, 0 failed, 1 not applicable",
        "report written to conformance.html",
    ],
}

#: exercises that start the gateway and both single windows
WITH_SERVICES = {"07-send-through-the-gateway", "08-read-the-receipt", "09-revoke-an-issuer",
                 "10-caught-at-the-gateway", "11-verify-the-audit-log", "14-ephyto-through-the-hub", "15-two-laptops",
                 "16-transit-route"}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _node_ports() -> int:
    """The first of three free ports in a row: the countries' nodes take one each from it (``ptx up --node-port``),
    and exercise 17 restarts its node on the next one."""
    return free_port(consecutive=3)


def _run(script: Path, workdir: Path, *args: str, extra_env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    """Run an exercise as a participant would (``bash run.sh``) from ``workdir``, with its work folders there."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "PTX_EXAMPLE_WORKDIR": str(workdir), **(extra_env or {})}
    for name in ("COLUMNS", "PTX_EXAMPLE_KEEP", "PTX_EXAMPLE_PAUSE"):
        env.pop(name, None)
    process = subprocess.Popen(["bash", str(script), *args], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        try:
            stdout, stderr = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)  # the script's exit trap stops its services
            stdout, stderr = process.communicate(timeout=60)
            raise AssertionError(f"{script.parent.name} did not finish in 240 s:\n{stdout}{stderr}") from None
    finally:
        for state in workdir.glob("*/workspace/run/services.json"):  # a safety net: never leave services behind
            subprocess.run([str(VENV_BIN / "ptx"), "down", "--workspace", str(state.parent.parent)],
                           capture_output=True, timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_every_exercise_folder_is_tested_and_complete() -> None:
    folders = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert folders == sorted(EXPECTED)
    assert len(folders) >= 10
    for name in folders:
        script = EXAMPLES / name / "run.sh"
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in script.read_text()
        readme = (EXAMPLES / name / "README.md").read_text()
        for heading in ("## Goal", "## Run it", "## Expected output", "## Try this"):
            assert heading in readme, f"{name}/README.md lacks {heading!r}"
        assert name in (EXAMPLES / "README.md").read_text(), f"the trainer's guide does not list {name}"


#: exercises that read the public corpus (official UBL schemas): without it they stop with exit 2 and say why
NEEDS_CORPUS = {"13-validate-an-official-ubl-document"}

#: the exercises, longest first, so that parallel workers (pytest -n auto) finish at about the same time
SLOWEST_FIRST = sorted(EXPECTED, key=lambda name: (name not in WITH_SERVICES, name))


@pytest.mark.parametrize("name", SLOWEST_FIRST)
def test_exercise_runs_and_teaches_what_it_says(name: str, tmp_path: Path) -> None:
    if name in NEEDS_CORPUS:
        require("corpus")
    gateway_port, node_port = free_port(), _node_ports()
    result = _run(EXAMPLES / name / "run.sh", tmp_path, extra_env={
        "PTX_EXAMPLE_GATEWAY_PORT": str(gateway_port), "PTX_EXAMPLE_NODE_PORT": str(node_port)})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    number = name[:2]
    assert f"=== Exercise {number}: " in result.stdout
    assert "Step 1. " in result.stdout
    for expected in EXPECTED[name]:
        assert expected in result.stdout, f"{name}: {expected!r} missing from:\n{output}"
    assert f"Done: exercise {number} went as expected." in result.stdout
    assert not (tmp_path / number).exists(), "the work folder was not removed"
    if name in WITH_SERVICES:
        assert f"127.0.0.1:{gateway_port}" in result.stdout
        for port in (gateway_port, node_port, node_port + 1):
            assert not _listening(port), f"port {port} still answers: a service was left running"


def test_official_ubl_exercise_explains_where_to_get_the_schemas(tmp_path: Path) -> None:
    result = _run(EXAMPLES / "13-validate-an-official-ubl-document" / "run.sh", tmp_path, str(tmp_path / "nowhere"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "docs.oasis-open.org/ubl/os-UBL-2.1/UBL-2.1.zip" in result.stdout
    assert not (tmp_path / "13").exists()


def test_a_failed_expectation_stops_the_exercise_and_cleans_up(tmp_path: Path) -> None:
    """The scripts check their own outcomes: a wrong one exits non-zero and still removes the work folder."""
    script = tmp_path / "99-broken" / "run.sh"
    script.parent.mkdir()
    script.write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        f"source {str(EXAMPLES / '_common.sh')!r}\n"
        'begin 99 "A broken exercise"\n'
        'step "Expect ptx to say something it does not say."\n'
        "ok ptx schemas list\n"
        'seen "NO-SUCH-CODE"\n'
        'finish "never reached"\n'
    )
    result = _run(script, tmp_path)
    assert result.returncode == 1
    assert "expected to see 'NO-SUCH-CODE'" in result.stderr
    assert "Done:" not in result.stdout
    assert not (tmp_path / "99").exists()
