"""The real Twilio SDK against real local HTTP peers, never a patched function.

Two peers: the project's own (tests/peers/twilio_peer.py), which fails on demand as Twilio does
(429, 500, 503, timeouts, resets, opted-out and invalid numbers), and Prism serving Twilio's own
OpenAPI description (tests/peers/prism.py), which holds requests to Twilio's contract. Without
Node.js or Prism installed (`npm ci --prefix tests/peers`) the Prism tests skip with the reason,
unless TMS_REQUIRE_PRISM=1 (as in CI), where that is a failure.
"""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.peers.prism import PROJECT_ROOT, Prism, prism_problem
from tests.peers.twilio_peer import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, ControlError, PeerClient, TwilioPeer

REQUIRE_PRISM = os.environ.get("TMS_REQUIRE_PRISM") == "1"
ACCOUNT_SID = DEFAULT_ACCOUNT_SID
AUTH_TOKEN = DEFAULT_AUTH_TOKEN
PATIENT = "+17145550123"
CLINIC = "+17145550100"
MESSAGING_SERVICE = "MG" + "ab" * 16
STATUS_CALLBACK = "https://tms.example.org/api/v1/sms/status"
REMINDER = "Reminder: your TMS session is tomorrow at 09:00 at Irvine. Reply STOP to opt out."
SDK_TIMEOUT_SECONDS = 2
PROCESS_DEADLINE_SECONDS = 10


@pytest.fixture(autouse=True)
def sdk_environment(monkeypatch):
    """The SDK reads TWILIO_REGION / TWILIO_EDGE (they rewrite the host) and requests reads proxies."""
    for name in ("TWILIO_REGION", "TWILIO_EDGE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def sdk_client(base_url: str, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN,
               timeout: float | None = None, **client_args) -> Client:
    """The real SDK pointed at a local peer, as TWILIO_API_URL points the service's."""
    client = Client(username, password, http_client=TwilioHttpClient(timeout=timeout), **client_args)
    client.api.base_url = base_url
    return client


def send(client: Client, to: str = PATIENT, body: str = REMINDER, **extra):
    return client.messages.create(to=to, from_=CLINIC, body=body, status_callback=STATUS_CALLBACK, **extra)


def messages_url(base_url: str, account_sid: str = ACCOUNT_SID) -> str:
    return f"{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json"


def raw_post(url: str, fields: dict[str, str], auth: tuple[str, str] | None) -> tuple[int, dict, dict]:
    """A form POST by urllib, for requests the SDK would not make: (status, JSON body, headers)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


# ---------------------------------------------------------------------------------------------
# the project's own peer, in this process

@pytest.fixture
def twilio_peer():
    with TwilioPeer(ACCOUNT_SID, AUTH_TOKEN) as peer:
        yield peer


@pytest.fixture
def client(twilio_peer) -> Client:
    return sdk_client(twilio_peer.url)


def test_a_message_sent_through_the_sdk_is_recorded_with_its_body_and_status_callback(twilio_peer, client):
    message = send(client)

    [record] = twilio_peer.records()
    assert record["outcome"] == "accepted"
    assert record["status"] == 201
    assert (record["to"], record["from"], record["body"]) == (PATIENT, CLINIC, REMINDER)
    assert record["status_callback"] == STATUS_CALLBACK
    assert record["attempt"] == 1
    assert record["sid"] == message.sid
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)


def test_the_sdk_reads_the_peers_answer_as_a_queued_twilio_message(client):
    message = send(client)

    assert message.account_sid == ACCOUNT_SID
    assert (message.to, message.from_, message.body) == (PATIENT, CLINIC, REMINDER)
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.num_segments == "1"
    assert message.api_version == "2010-04-01"
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"
    assert (message.error_code, message.error_message, message.price) == (None, None, None)
    assert isinstance(message.date_created, datetime) and message.date_created.tzinfo is not None


def test_each_message_gets_a_sid_of_its_own(client):
    assert len({send(client).sid for _ in range(5)}) == 5


def test_a_message_sent_can_be_fetched_by_its_sid(client):
    sid = send(client).sid

    fetched = client.messages(sid).fetch()

    assert (fetched.sid, fetched.body, fetched.status) == (sid, REMINDER, "queued")


def test_a_message_through_a_messaging_service_needs_no_from_number(twilio_peer, client):
    message = client.messages.create(to=PATIENT, messaging_service_sid=MESSAGING_SERVICE, body=REMINDER)

    assert message.messaging_service_sid == MESSAGING_SERVICE
    assert message.from_ is None
    [record] = twilio_peer.records()
    assert (record["outcome"], record["messaging_service_sid"], record["from"]) == ("accepted", MESSAGING_SERVICE, None)


def test_a_wrong_auth_token_is_refused_with_401_and_twilios_code_20003_and_sends_nothing(twilio_peer):
    client = sdk_client(twilio_peer.url, password="not-the-token")

    with pytest.raises(TwilioRestException) as refused:
        send(client)

    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert "Authenticate" in refused.value.msg
    assert [record["outcome"] for record in twilio_peer.records()] == ["unauthorized"]
    assert twilio_peer.messages() == []


def test_a_request_without_basic_auth_is_refused_with_401_and_a_basic_challenge(twilio_peer):
    status, body, headers = raw_post(messages_url(twilio_peer.url), {"To": PATIENT, "From": CLINIC, "Body": "x"},
                                     auth=None)

    assert (status, body["code"], body["status"]) == (401, 20003, 401)
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert twilio_peer.messages() == []


def test_another_accounts_sid_in_the_path_is_not_found_even_with_the_right_credentials(twilio_peer):
    client = sdk_client(twilio_peer.url, account_sid="AC" + "f" * 32)  # the path's; Basic auth stays ours

    with pytest.raises(TwilioRestException) as refused:
        send(client)

    assert (refused.value.status, refused.value.code) == (404, 20404)
    assert [(r["account_sid"], r["outcome"]) for r in twilio_peer.records()] == [("AC" + "f" * 32, "not_found")]
    assert twilio_peer.messages() == []


@pytest.mark.parametrize(("fields", "code"), [
    pytest.param({"to": "", "from_": CLINIC, "body": REMINDER}, 21604, id="no To: 21604"),
    pytest.param({"to": PATIENT, "body": REMINDER}, 21603, id="neither From nor MessagingServiceSid: 21603"),
    pytest.param({"to": PATIENT, "from_": CLINIC}, 21602, id="no Body: 21602"),
])
def test_a_message_missing_a_required_field_is_refused_with_400_and_twilios_code(twilio_peer, client, fields, code):
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(**fields)

    assert (refused.value.status, refused.value.code) == (400, code)
    assert twilio_peer.messages() == []


def test_an_opted_out_number_raises_21610_and_creates_no_message(twilio_peer, client):
    twilio_peer.control(opted_out=["+17145550111"])

    with pytest.raises(TwilioRestException) as refused:
        send(client, to="+17145550111")

    assert (refused.value.status, refused.value.code) == (400, 21610)
    assert "unsubscribed recipient" in refused.value.msg
    assert send(client).sid  # another number still gets through
    assert [(r["to"], r["outcome"], r["error_code"], r["sid"] is None) for r in twilio_peer.records()] == [
        ("+17145550111", "opted_out", 21610, True), (PATIENT, "accepted", None, False)]


@pytest.mark.parametrize("number", ["+17145550112", "7145550112", "+1 714 555 0112"])
def test_an_invalid_number_raises_21211_and_creates_no_message(twilio_peer, client, number):
    twilio_peer.control(invalid=["+17145550112"])

    with pytest.raises(TwilioRestException) as refused:
        send(client, to=number)

    assert (refused.value.status, refused.value.code) == (400, 21211)
    assert "Invalid 'To' Phone Number" in refused.value.msg
    assert twilio_peer.messages() == []
    assert [record["outcome"] for record in twilio_peer.records()] == ["invalid_to"]


@pytest.mark.parametrize(("failure", "status", "code"), [("429", 429, 20429), ("500", 500, 20500), ("503", 503, 20503)])
def test_a_transient_failure_raises_twilio_rest_exception_with_its_status_and_code(
        twilio_peer, client, failure, status, code):
    twilio_peer.control(fail_rate=1, fail_with=[failure])

    with pytest.raises(TwilioRestException) as failed:
        send(client)

    assert (failed.value.status, failed.value.code) == (status, code)
    [record] = twilio_peer.records()
    assert (record["outcome"], record["status"], record["error_code"], record["sid"]) == (failure, status, code, None)
    assert record["body"] == REMINDER


def test_a_reset_connection_raises_a_requests_connection_error_and_is_recorded(twilio_peer, client):
    twilio_peer.control(fail_rate=1, fail_with=["reset"])

    with pytest.raises(requests.exceptions.ConnectionError):
        send(client)

    [record] = twilio_peer.records()
    assert (record["outcome"], record["status"], record["sid"]) == ("reset", None, None)
    twilio_peer.control(fail_rate=0)
    assert send(client).sid  # the same client sends again on a new connection


def test_a_peer_slower_than_the_sdks_timeout_raises_a_requests_timeout(twilio_peer):
    client = sdk_client(twilio_peer.url, timeout=SDK_TIMEOUT_SECONDS)
    twilio_peer.control(fail_rate=1, fail_with=["timeout"], timeout_seconds=SDK_TIMEOUT_SECONDS + 10)
    started = time.monotonic()

    with pytest.raises(requests.exceptions.Timeout):
        send(client)

    assert SDK_TIMEOUT_SECONDS - 0.1 <= time.monotonic() - started < SDK_TIMEOUT_SECONDS + 5
    assert [(r["outcome"], r["sid"]) for r in twilio_peer.records()] == [("timeout", None)]
    assert twilio_peer.messages() == []


def test_a_thirty_percent_fail_rate_with_a_seed_fails_about_thirty_percent_of_200_sends_the_same_way_each_time(
        twilio_peer, client):
    def run() -> list[str]:
        twilio_peer.reset()
        twilio_peer.control(fail_rate=0.3, fail_with=["500", "503", "429"], seed=1)
        outcomes = []
        for n in range(200):
            try:
                send(client, body=f"reminder {n}")
                outcomes.append("accepted")
            except TwilioRestException as failure:
                outcomes.append(str(failure.status))
        return outcomes

    first = run()
    failures = [outcome for outcome in first if outcome != "accepted"]
    assert 40 <= len(failures) <= 80, len(failures)
    assert set(failures) == {"500", "503", "429"}
    assert [record["outcome"] for record in twilio_peer.records()] == first
    assert len(twilio_peer.messages()) == 200 - len(failures)
    assert run() == first


def test_each_resend_of_a_text_to_a_number_is_recorded_with_its_attempt_number(twilio_peer, client):
    twilio_peer.control(fail_rate=1, fail_with=["500"])
    for _ in range(2):
        with pytest.raises(TwilioRestException):
            send(client)
    twilio_peer.control(fail_rate=0)
    send(client)
    send(client, body="another text")

    assert [(r["body"], r["attempt"], r["outcome"]) for r in twilio_peer.records()] == [
        (REMINDER, 1, "500"), (REMINDER, 2, "500"), (REMINDER, 3, "accepted"), ("another text", 1, "accepted")]


def test_concurrent_senders_each_get_their_message_recorded_once(twilio_peer):
    senders, each = 8, 25
    sids: list[str] = []
    problems: list[BaseException] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        client = sdk_client(twilio_peer.url, timeout=10)  # one keep-alive session per sender
        try:
            for k in range(each):
                sid = send(client, body=f"sender {n} text {k}").sid
                with lock:
                    sids.append(sid)
        except BaseException as problem:  # reported by the assertion below
            problems.append(problem)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert problems == []
    assert len(set(sids)) == senders * each
    records = twilio_peer.records()
    assert sorted(record["sid"] for record in records) == sorted(sids)
    assert len({record["body"] for record in records}) == senders * each
    assert [record["index"] for record in records] == list(range(senders * each))


@pytest.mark.parametrize("control", [{"fail_rate": 1.5}, {"fail_with": ["418"]}, {"fail_with": []},
                                     {"opted_out": "+17145550111"}, {"typo": 1}])
def test_a_control_request_the_peer_cannot_follow_is_refused_and_changes_nothing(twilio_peer, control):
    peer = PeerClient(twilio_peer.url)
    before = peer.modes()

    with pytest.raises(ControlError):
        peer.control(**control)

    assert peer.modes() == before == twilio_peer.modes()


def test_reset_forgets_records_messages_and_failure_modes(twilio_peer, client):
    sid = send(client).sid
    twilio_peer.control(fail_rate=1, opted_out=[PATIENT])

    PeerClient(twilio_peer.url).reset()

    assert twilio_peer.records() == []
    with pytest.raises(TwilioRestException) as gone:
        client.messages(sid).fetch()
    assert gone.value.status == 404
    assert send(client).status == "queued"


# ---------------------------------------------------------------------------------------------
# the project's own peer as a process of its own, driven over HTTP

@pytest.fixture
def twilio_peer_process():
    """`python -m tests.peers.twilio_peer --port 0`; yields (process, url)."""
    process = subprocess.Popen([sys.executable, "-m", "tests.peers.twilio_peer", "--port", "0",
                                "--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), (line, process.stderr.read())
        yield process, line.removeprefix("listening on ")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=PROCESS_DEADLINE_SECONDS)
        process.stdout.close()
        process.stderr.close()


def test_the_peer_as_a_process_is_driven_over_http_and_exits_cleanly_on_sigterm(twilio_peer_process):
    process, url = twilio_peer_process
    peer = PeerClient(url)
    client = sdk_client(url)
    peer.control(opted_out=["+17145550111"])

    sid = send(client).sid
    with pytest.raises(TwilioRestException) as refused:
        send(client, to="+17145550111")

    assert refused.value.code == 21610
    assert [(r["outcome"], r["sid"]) for r in peer.records()] == [("accepted", sid), ("opted_out", None)]
    assert [r["sid"] for r in peer.messages()] == [sid]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=PROCESS_DEADLINE_SECONDS) == 0
    assert process.stderr.read() == ""


# ---------------------------------------------------------------------------------------------
# Prism serving Twilio's own OpenAPI description

@pytest.fixture(scope="session")
def prism(tmp_path_factory):
    """One Prism per pytest worker (it takes seconds to start); skipped without Node.js or Prism."""
    problem = prism_problem()
    if problem:
        if REQUIRE_PRISM:
            pytest.fail(f"{problem} (TMS_REQUIRE_PRISM=1)")
        pytest.skip(problem)
    server = Prism(tmp_path_factory.mktemp("prism") / "prism.log")
    server.start()
    yield server
    server.stop()


def test_prism_accepts_a_valid_message_from_the_sdk_as_twilio_describes_it(prism):
    client = sdk_client(prism.url)

    message = send(client)
    answer = client.request("POST", messages_url(prism.url),
                            data={"To": PATIENT, "From": CLINIC, "Body": REMINDER, "StatusCallback": STATUS_CALLBACK})

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert answer.status_code == 201
    assert json.loads(answer.text)["status"] == "queued"


def test_prism_refuses_a_message_without_to_with_422_naming_the_missing_field(prism):
    client = sdk_client(prism.url)

    answer = client.request("POST", messages_url(prism.url), data={"From": CLINIC, "Body": REMINDER})

    assert answer.status_code == 422, answer.text
    problem = json.loads(answer.text)
    assert problem["status"] == 422
    assert [(v["location"], v["code"]) for v in problem["validation"]] == [(["body"], "required")]
    assert "'To'" in problem["validation"][0]["message"]


def test_prism_refuses_a_request_without_basic_auth_with_401(prism):
    status, problem, headers = raw_post(messages_url(prism.url), {"To": PATIENT, "From": CLINIC, "Body": REMINDER},
                                        auth=None)

    assert status == 401, problem
    assert problem["status"] == 401
    assert headers["WWW-Authenticate"].startswith("Basic")


def test_prism_refuses_an_account_sid_outside_twilios_pattern_and_the_sdk_raises_it(prism):
    client = sdk_client(prism.url, account_sid="AC-not-an-account")

    with pytest.raises(TwilioRestException) as refused:
        send(client)

    assert refused.value.status == 422
    assert refused.value.code == 422  # Prism's problem JSON carries no Twilio code; the SDK uses the status


def test_the_projects_peer_answers_a_message_with_the_fields_twilios_description_answers(prism, twilio_peer):
    fields = {"To": PATIENT, "From": CLINIC, "Body": REMINDER, "StatusCallback": STATUS_CALLBACK}

    described = sdk_client(prism.url).request("POST", messages_url(prism.url), data=fields)
    ours = sdk_client(twilio_peer.url).request("POST", messages_url(twilio_peer.url), data=fields)

    assert (described.status_code, ours.status_code) == (201, 201)
    assert sorted(json.loads(ours.text)) == sorted(json.loads(described.text))
