"""``ptx serve validator`` as a real uvicorn process: the KoSIT daemon's contract (200 / 406 / 422), rules warm."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from lxml import etree

from exchange._xml import parse_xml
from exchange.testing.processes import PTX, free_port, running
from tests.support.needs import REPO, corpus_dir

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("corpus")]
CORPUS = corpus_dir()
EXAMPLE = CORPUS / "schemas/ubl21/samples/en16931/ubl/examples/ubl-tc434-example1.xml"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("validator")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PTX_CORPUS": str(CORPUS), "PTX_RULES_CACHE": str(folder / "cache")}
    command = [PTX, "serve", "validator", "--scenarios", str(REPO / "scenarios" / "en16931.yaml"), "--port",
               str(port)]
    with running(command, health_url=f"{url}/healthz", env=env, log=folder / "validator.log"):
        yield url


def test_an_acceptable_document_is_200_with_the_report(service: str) -> None:
    data = EXAMPLE.read_bytes()
    response = httpx.post(f"{service}/?name=example1.xml", content=data, timeout=60)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["recommendation"] == "accept" and report["scenario"] == "en16931-ubl-invoice"
    assert report["path"] == "example1.xml" and len(report["sha256"]) == 64
    assert [s["name"] for s in report["steps"]] == ["parse", "document-type", "schema", "rules"]
    assert response.headers["PTX-Recommendation"] == "accept"


def test_a_document_breaking_a_rule_is_406_and_warm_rules_answer_fast(service: str) -> None:
    tree = parse_xml(EXAMPLE.read_bytes())
    tree.getroot().find(f"{{{CBC}}}InvoiceTypeCode").text = "999"  # type: ignore[union-attr]
    data = etree.tostring(tree)
    started = time.perf_counter()
    response = httpx.post(f"{service}/v1/validate", content=data, timeout=60)
    elapsed = time.perf_counter() - started
    assert response.status_code == 406
    assert [f["code"] for f in response.json()["findings"] if f["severity"] == "error"] == ["BR-CL-01"]
    assert elapsed < 5, f"rules not warm: {elapsed:.1f} s"  # compiling EN 16931 takes longer than one warm run
    svrl = httpx.post(f"{service}/?format=svrl", content=data, timeout=60)
    assert svrl.status_code == 406 and svrl.headers["content-type"].startswith("application/svrl+xml")
    assert b"failed-assert" in svrl.content and b'id="BR-CL-01"' in svrl.content
    page = httpx.post(service, content=data, headers={"Accept": "text/html"}, timeout=60)
    assert page.status_code == 406 and "BR-CL-01" in page.text and "<script" not in page.text


@pytest.mark.parametrize(("body", "code"), [
    (b"<Invoice", "XML-MALFORMED"),
    (b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>', "SCENARIO-NO-MATCH"),
    (b"", "XML-EMPTY"),
])
def test_a_document_that_cannot_be_processed_is_422(service: str, body: bytes, code: str) -> None:
    response = httpx.post(service, content=body, timeout=60)
    assert response.status_code == 422
    document = response.json()
    codes = [document["code"]] if "code" in document else [f["code"] for f in document["findings"]]
    assert codes == [code]


def test_readyz_names_the_warm_rules(service: str) -> None:
    ready = httpx.get(f"{service}/readyz").json()
    assert ready["scenarios"] == ["en16931-ubl-invoice", "en16931-ubl-credit-note", "en16931-cii"]
    assert all(os.path.basename(p).startswith("EN16931-") for p in ready["rules"])
    assert Path(ready["rules"][0]).is_file()


def test_a_bad_query_is_400_with_a_code(service: str) -> None:
    response = httpx.post(f"{service}/?format=pdf", content=EXAMPLE.read_bytes(), timeout=60)
    assert response.status_code == 400
    assert response.json()["code"] == "INPUT-INVALID" and "format" in response.json()["message"]


def test_a_document_over_the_size_limit_is_413_before_it_is_read(service: str) -> None:
    response = httpx.post(service, content=b"<a>" + b" " * (17 << 20) + b"</a>", timeout=60)  # limit: 16 MiB
    assert response.status_code == 413 and response.json()["code"] == "XML-TOO-LARGE"
