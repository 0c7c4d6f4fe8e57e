"""Tests of the fake Graph API server (tests/fake_meta.py), driven with requests."""

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from fake_meta import FakeMeta, appsecret_proof, sha256_hex

TOKEN = "tok-123"
DS = "555000111"
NOW = 1_790_000_000  # frozen clock
DAY = 86400
EM = sha256_hex("john_smith@gmail.com")
PH = sha256_hex("16505551212")


def event(i=0, **over):
    ev = {
        "event_name": "Purchase",
        "event_time": NOW - 3600,
        "action_source": "physical_store",
        "event_id": f"ev-{i}",
        "user_data": {"em": EM, "ph": [PH], "external_id": sha256_hex(f"amp-{i}")},
        "custom_data": {
            "currency": "USD",
            "value": 20.0,
            "order_id": f"O-{i}",
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 10.0}],
        },
    }
    ev.update(over)
    return ev


@pytest.fixture
def meta():
    with FakeMeta(token=TOKEN, dataset_ids=[DS], now=NOW) as m:
        yield m
        assert m.errors == []


def post(meta, events, token=TOKEN, dataset=DS, **extra):
    body = {"data": events, **extra}
    if token is not None:
        body["access_token"] = token
    return requests.post(f"{meta.url}/v26.0/{dataset}/events", json=body, timeout=10)


def err(resp):
    return resp.json()["error"]


# ---------------------------------------------------------------- success, formats
def test_valid_batch_accepted(meta):
    events = [event(i) for i in range(3)]
    r = post(meta, events)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"events_received", "messages", "fbtrace_id"}
    assert body["events_received"] == 3 and body["messages"] == []
    assert meta.accepted_events == events
    assert meta.accepted_by_dataset == {DS: events}
    rec = meta.requests[0]
    assert rec.status == 200 and rec.events == events and rec.fbtrace_id == body["fbtrace_id"]
    assert rec.token == TOKEN and rec.token_source == "body"
    assert rec.fields["access_token"] == "<redacted>"
    assert rec.request_line == f"POST /v26.0/{DS}/events HTTP/1.1"
    assert meta.rejected_requests == []


def test_fbtrace_ids_unique(meta):
    ids = {post(meta, [event()]).json()["fbtrace_id"] for _ in range(5)}
    ids.add(err(post(meta, [event()], token="nope"))["fbtrace_id"])
    assert len(ids) == 6


@pytest.mark.parametrize("fmt", ["json_string", "multipart", "form"])
def test_body_formats(meta, fmt):
    events = [event(1), event(2)]
    url = meta.events_url()
    fields = {"data": json.dumps(events), "access_token": TOKEN, "test_event_code": "TEST1"}
    if fmt == "json_string":
        r = requests.post(url, json=fields, timeout=10)
    elif fmt == "multipart":
        r = requests.post(url, files={k: (None, v) for k, v in fields.items()}, timeout=10)
    else:
        r = requests.post(url, data=fields, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["events_received"] == 2
    assert meta.accepted_events == events
    assert meta.requests[0].fields["test_event_code"] == "TEST1"


def test_multipart_keeps_non_ascii(meta):
    ev = event(custom_data={"order_id": "Zoë-1", "currency": "EUR", "value": 1})
    r = requests.post(
        meta.events_url(),
        files={"data": (None, json.dumps([ev], ensure_ascii=False)), "access_token": (None, TOKEN)},
        timeout=10,
    )
    assert r.status_code == 200
    assert meta.accepted_events[0]["custom_data"]["order_id"] == "Zoë-1"


def test_token_in_authorization_header(meta):
    r = requests.post(
        meta.events_url(), json={"data": [event()]}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert r.status_code == 200
    rec = meta.requests[0]
    assert rec.token_source == "header" and rec.headers["authorization"] == "Bearer <redacted>"


def test_token_in_query_is_accepted_and_visible_in_request_line(meta):
    r = requests.post(meta.events_url() + f"?access_token={TOKEN}", json={"data": [event()]}, timeout=10)
    assert r.status_code == 200
    assert meta.requests[0].token_source == "query"
    assert any(TOKEN in line for line in meta.request_lines)


# ---------------------------------------------------------------- rejections
@pytest.mark.parametrize(
    "token,message",
    [
        (None, "An access token is required"),
        ("wrong", "Invalid OAuth access token"),
    ],
)
def test_bad_token(meta, token, message):
    r = post(meta, [event()], token=token)
    assert r.status_code == 400
    e = err(r)
    assert e["code"] == 190 and e["type"] == "OAuthException" and message in e["message"]
    assert "error_subcode" not in e and e["is_transient"] is False
    assert "invalid_token" in r.headers["WWW-Authenticate"]
    assert meta.accepted_events == [] and len(meta.rejected_requests) == 1


def test_appsecret_proof():
    assert appsecret_proof("appsecret-123", "access-token-234") == (
        "cdfcbc87edc90f8123cd3797a0d6f6f7eedf63d97038a15d1693d297f653d7f2"
    )
    with FakeMeta(token=TOKEN, dataset_ids=[DS], app_secret="s3cret", now=NOW) as m:
        r = post(m, [event()])
        assert err(r)["code"] == 100 and "appsecret_proof" in err(r)["message"]
        r = post(m, [event()], appsecret_proof=appsecret_proof("other", TOKEN))
        assert err(r)["code"] == 100 and "Invalid appsecret_proof" in err(r)["message"]
        r = post(m, [event()], appsecret_proof=appsecret_proof("s3cret", TOKEN))
        assert r.status_code == 200 and len(m.accepted_events) == 1


def test_unknown_dataset(meta):
    r = post(meta, [event()], dataset="999")
    e = err(r)
    assert r.status_code == 400 and (e["code"], e["error_subcode"]) == (100, 33)
    assert e["message"].startswith("Unsupported post request. Object with ID '999' does not exist")


def test_more_than_1000_events(meta):
    r = post(meta, [event(i) for i in range(1001)])
    assert r.status_code == 400 and err(r)["code"] == 100
    assert meta.accepted_events == []
    r = post(meta, [event(i) for i in range(1000)])
    assert r.json()["events_received"] == 1000


@pytest.mark.parametrize("data", [None, "not json", {"a": 1}, []])
def test_bad_data_parameter(meta, data):
    body = {"access_token": TOKEN} if data is None else {"access_token": TOKEN, "data": data}
    r = requests.post(meta.events_url(), json=body, timeout=10)
    assert r.status_code == 400 and err(r)["code"] == 100


def _ud(**kw):
    return {"em": EM, **kw}


INVALID = {
    "empty event_name": (dict(event_name=""), "event_name", 2804019),
    "string event_time": (dict(event_time=str(NOW)), "event_time", 2804019),
    "float event_time": (dict(event_time=NOW - 10.5), "event_time", 2804019),
    "future": (dict(event_time=NOW + 600), "event_time", 2804004),
    "8 days old website-less": (dict(event_time=NOW - 8 * DAY, action_source="email"), "event_time", 2804003),
    "63 days old store": (dict(event_time=NOW - 63 * DAY), "event_time", 2804003),
    "bad action_source": (dict(action_source="store"), "action_source", 2804019),
    "missing action_source": (dict(action_source=None), "action_source", 2804019),
    "no user_data": (dict(user_data=None), "user_data", 2804019),
    "no em or ph": (dict(user_data={"ct": sha256_hex("paris")}), "user_data", 2804050),
    "unhashed em": (dict(user_data=_ud(em="john@example.com")), "user_data][em", 2804019),
    "uppercase hash": (dict(user_data=_ud(em=EM.upper())), "user_data][em", 2804019),
    "bad zp in list": (dict(user_data=_ud(zp=[EM, "94105"])), "user_data][zp", 2804019),
    "empty list": (dict(user_data=_ud(ph=[])), "user_data][ph", 2804019),
    "hashed user agent": (dict(user_data=_ud(client_user_agent=EM)), "user_data][client_user_agent", 2804019),
    "website without ua": (
        dict(action_source="website", event_source_url="https://x.test/"),
        "user_data][client_user_agent",
        2804019,
    ),
    "website without url": (
        dict(action_source="website", user_data=_ud(client_user_agent="UA")),
        "event_source_url",
        2804019,
    ),
    "website without event_id": (
        dict(
            action_source="website",
            event_id=None,
            event_source_url="https://x.test/",
            user_data=_ud(client_user_agent="UA"),
        ),
        "event_id",
        2804019,
    ),
    "value without currency": (dict(custom_data={"value": 5}), "custom_data][currency", 2804019),
    "bad currency": (dict(custom_data={"value": 5, "currency": "US$"}), "custom_data][currency", 2804019),
    "content without quantity": (dict(custom_data={"contents": [{"id": "a"}]}), "custom_data][contents][0", 2804019),
    "content without id": (dict(custom_data={"contents": [{"quantity": 1}]}), "custom_data][contents][0", 2804019),
}


@pytest.mark.parametrize("name", INVALID)
def test_one_invalid_event_rejects_whole_batch(meta, name):
    over, field, subcode = INVALID[name]
    bad = event(1, **over)
    bad = {k: v for k, v in bad.items() if v is not None}
    r = post(meta, [event(0), bad, event(2)])
    assert r.status_code == 400
    e = err(r)
    assert (e["code"], e["error_subcode"], e["message"]) == (100, subcode, "Invalid parameter")
    assert e["error_user_msg"].startswith(f"data[1][{field}]: ")
    assert re.search(r"data\[(\d+)\]", e["error_user_msg"]).group(1) == "1"
    assert meta.accepted_events == []
    assert len(meta.rejected_requests) == 1


VALID = {
    "30 days old store": dict(event_time=NOW - 30 * DAY),
    "6 days old email": dict(event_time=NOW - 6 * DAY, action_source="email"),
    "slight clock skew": dict(event_time=NOW + 5),
    "phone only": dict(user_data={"ph": PH}),
    "full website": dict(
        action_source="website", event_source_url="https://x.test/", user_data=_ud(client_user_agent="Mozilla/5.0")
    ),
    "no custom_data": dict(custom_data=None),
    "custom event name": dict(event_name="StoreVisit"),
}


@pytest.mark.parametrize("name", VALID)
def test_valid_variants(meta, name):
    ev = {k: v for k, v in event(**VALID[name]).items() if v is not None}
    r = post(meta, [ev])
    assert r.status_code == 200, r.text
    assert meta.accepted_events == [ev]


def test_index_in_errors_off(meta):
    meta.index_in_errors = False
    r = post(meta, [event(0), event(1, event_time=NOW - 100 * DAY)])
    e = err(r)
    assert e["error_subcode"] == 2804003
    assert "data[" not in json.dumps(r.json())


def test_reject_chosen_events(meta):
    meta.reject_events(event_ids=["ev-3"], order_ids=["O-5"])
    r = post(meta, [event(i) for i in range(3, 6)])
    assert err(r)["code"] == 100 and err(r)["error_user_msg"].startswith("data[0][event_id]")
    r = post(meta, [event(i) for i in range(4, 6)])
    assert err(r)["error_user_msg"].startswith("data[1][custom_data][order_id]")
    assert meta.accepted_events == []
    assert post(meta, [event(4)]).status_code == 200
    meta.clear_rejections()
    assert post(meta, [event(3)]).status_code == 200
    assert [e["event_id"] for e in meta.accepted_events] == ["ev-4", "ev-3"]


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("code", [4, 17, 32, 613, 80004])
def test_throttle(meta, code):
    meta.fail_next("throttle", count=2, code=code, retry_after=7, regain_minutes=3)
    for _ in range(2):
        r = post(meta, [event()])
        e = err(r)
        assert r.status_code == 400 and e["code"] == code and e["is_transient"] is True
        assert r.headers["Retry-After"] == "7"
        usage = json.loads(r.headers["X-Business-Use-Case-Usage"])
        assert [u["estimated_time_to_regain_access"] for v in usage.values() for u in v] == [3]
    assert post(meta, [event()]).status_code == 200
    assert len(meta.accepted_events) == 1 and len(meta.rejected_requests) == 2


def test_throttle_without_headers(meta):
    meta.fail_next("throttle")
    r = post(meta, [event()])
    assert err(r)["code"] == 4 and "Retry-After" not in r.headers
    assert "X-Business-Use-Case-Usage" not in r.headers


def test_server_errors(meta):
    meta.fail_next("server_error")
    meta.fail_next("server_error", code=1, status=503)
    meta.fail_next("server_error", status=502, body=False)
    r = post(meta, [event()])
    assert r.status_code == 500 and (err(r)["code"], err(r)["is_transient"]) == (2, True)
    r = post(meta, [event()])
    assert r.status_code == 503 and err(r)["code"] == 1
    assert err(r)["message"] == "An unknown error occurred"
    r = post(meta, [event()])
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    assert post(meta, [event()]).status_code == 200
    assert meta.pending_faults == []


def test_drop_connection(meta):
    meta.fail_next("drop", count=2)
    with requests.Session() as s:
        for _ in range(2):
            with pytest.raises(requests.ConnectionError):
                s.post(meta.events_url(), json={"data": [event()], "access_token": TOKEN})
        assert s.post(meta.events_url(), json={"data": [event()], "access_token": TOKEN}).status_code == 200
    assert [r.status for r in meta.requests] == [None, None, 200]
    assert all(r.events == [event()] for r in meta.requests)
    assert len(meta.accepted_events) == 1


def test_tos_and_policy(meta):
    meta.fail_next("tos", act="42")
    meta.fail_next("tos", subcode=1870090)
    meta.fail_next("policy")
    e = err(post(meta, [event()]))
    assert (e["code"], e["error_subcode"]) == (200, 1870034)
    url = "https://business.facebook.com/ads/manage/customaudiences/tos/?act=42"
    assert url in e["message"] and url in e["error_user_msg"]
    assert err(post(meta, [event()]))["error_subcode"] == 1870090
    assert err(post(meta, [event()]))["code"] == 368
    assert meta.accepted_events == []


def test_generic_error_and_miscount(meta):
    meta.fail_next("error", code=341, message="(#341) Application limit reached", transient=True)
    meta.fail_next("miscount")
    e = err(post(meta, [event()]))
    assert (e["code"], e["is_transient"]) == (341, True)
    r = post(meta, [event(1), event(2)])
    assert r.status_code == 200 and r.json()["events_received"] == 1
    assert meta.accepted_events == []
    with pytest.raises(ValueError):
        meta.fail_next("error")
    with pytest.raises(ValueError):
        meta.fail_next("bogus")


def test_token_expires_after_n_successes(meta):
    meta.expire_token(after=2)
    assert post(meta, [event(0)]).status_code == 200
    assert post(meta, [event(1, event_name="")]).status_code == 400  # rejections do not count
    assert post(meta, [event(1)], token="x").status_code == 400
    assert post(meta, [event(2)]).status_code == 200
    e = err(post(meta, [event(3)]))
    assert (e["code"], e["error_subcode"]) == (190, 463)
    assert "Session has expired" in e["message"]
    assert [ev["event_id"] for ev in meta.accepted_events] == ["ev-0", "ev-2"]


def test_expire_after_in_constructor():
    with FakeMeta(token=TOKEN, dataset_ids=[DS], now=NOW, expire_after=1) as m:
        assert post(m, [event()]).status_code == 200
        assert err(post(m, [event()]))["error_subcode"] == 463


def test_concurrent_requests_with_delay():
    with FakeMeta(token=TOKEN, dataset_ids=[DS], now=NOW, delay=0.5) as m:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: post(m, [event(i)]), range(8)))
        assert [r.status_code for r in results] == [200] * 8
        assert sorted(e["event_id"] for e in m.accepted_events) == [f"ev-{i}" for i in range(8)]
        assert len({r.json()["fbtrace_id"] for r in results}) == 8


def test_faults_are_consumed_once_under_concurrency(meta):
    meta.fail_next("throttle", count=5)
    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(lambda i: post(meta, [event(i)]).status_code, range(20)))
    assert codes.count(400) == 5 and codes.count(200) == 15
    assert len(meta.accepted_events) == 15


# ---------------------------------------------------------------- token endpoints
def exchange(meta, **params):
    q = {
        "grant_type": "fb_exchange_token",
        "client_id": meta.app_id,
        "client_secret": "s3cret",
        "fb_exchange_token": TOKEN,
        **params,
    }
    return requests.get(f"{meta.url}/v26.0/oauth/access_token", params=q, timeout=10)


@pytest.fixture
def app_meta():
    with FakeMeta(token=TOKEN, dataset_ids=[DS], app_id="777", app_secret="s3cret", now=NOW, require_proof=False) as m:
        yield m


def test_token_exchange(app_meta):
    r = exchange(app_meta)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 5183944
    new = body["access_token"]
    assert new != TOKEN and app_meta.issued_tokens == [new]
    assert post(app_meta, [event()], token=new).status_code == 200
    assert app_meta.requests[0].fields["fb_exchange_token"] == "<redacted>"


@pytest.mark.parametrize(
    "params,code",
    [
        ({"client_id": "1"}, 101),
        ({"client_secret": "no"}, 1),
        ({"fb_exchange_token": "no"}, 190),
        ({"client_id": ""}, 101),
        ({"grant_type": "password"}, 100),
    ],
)
def test_token_exchange_errors(app_meta, params, code):
    r = exchange(app_meta, **params)
    assert r.status_code == 400 and err(r)["code"] == code
    assert app_meta.issued_tokens == []


def test_debug_token(app_meta):
    url = f"{app_meta.url}/debug_token"
    r = requests.get(url, params={"input_token": TOKEN, "access_token": "777|s3cret"}, timeout=10)
    d = r.json()["data"]
    assert d["is_valid"] is True and d["app_id"] == "777" and d["expires_at"] == 0
    assert "ads_management" in d["scopes"]
    new = exchange(app_meta).json()["access_token"]
    r = requests.get(
        f"{app_meta.url}/v26.0/debug_token", params={"input_token": new, "access_token": TOKEN}, timeout=10
    )
    assert r.json()["data"]["expires_at"] == NOW + 5183944
    r = requests.get(url, params={"input_token": "nope", "access_token": TOKEN}, timeout=10)
    assert r.json()["data"]["is_valid"] is False
    assert r.json()["data"]["error"]["code"] == 190
    app_meta.expire_token()
    r = requests.get(url, params={"input_token": TOKEN, "access_token": "777|s3cret"}, timeout=10)
    d = r.json()["data"]
    assert d["is_valid"] is False and d["error"]["subcode"] == 463
    r = requests.get(url, params={"input_token": TOKEN, "access_token": "bad"}, timeout=10)
    assert r.status_code == 400 and err(r)["code"] == 190


# ---------------------------------------------------------------- misc
def test_unknown_path_and_method(meta):
    r = requests.get(f"{meta.url}/v26.0/{DS}/events", params={"access_token": TOKEN}, timeout=10)
    assert err(r)["code"] == 100
    r = requests.get(f"{meta.url}/nothing/here", timeout=10)
    assert r.status_code == 400 and err(r)["code"] == 2500


def test_reset_forgets_recordings(meta):
    post(meta, [event()])
    meta.reset()
    assert meta.requests == [] and meta.accepted_events == []


def test_stop_is_prompt_and_closes_socket():
    m = FakeMeta(token=TOKEN, dataset_ids=[DS], now=NOW, delay=5).start()
    port = m.port
    with requests.Session() as s:  # leaves an idle keep-alive connection
        m.delay = 0
        assert s.post(m.events_url(), json={"data": [event()], "access_token": TOKEN}).status_code == 200
        m.delay = 5
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(post, m, [event()])
            deadline = time.monotonic() + 5
            while len(m.requests) < 2 and time.monotonic() < deadline:  # until it sleeps in the delay
                time.sleep(0.01)  # (a fixed 0.1 s sometimes stopped before the request was read)
            t0 = time.monotonic()
            m.stop()
            elapsed = time.monotonic() - t0
            pending.result(timeout=5)
    assert elapsed < 2
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    m.stop()  # idempotent


def test_token_endpoints_accept_post_bodies(app_meta):
    r = requests.post(
        f"{app_meta.url}/v26.0/oauth/access_token",
        data={
            "grant_type": "fb_exchange_token",
            "client_id": "777",
            "client_secret": "s3cret",
            "fb_exchange_token": TOKEN,
        },
        timeout=10,
    )
    new = r.json()["access_token"]
    r = requests.post(
        f"{app_meta.url}/v26.0/debug_token", data={"input_token": new, "access_token": "777|s3cret"}, timeout=10
    )
    assert r.json()["data"]["is_valid"] is True
    assert not any(TOKEN in line or new in line for line in app_meta.request_lines)


def test_chunked_body_and_bad_bodies(meta):
    body = json.dumps({"data": [event()], "access_token": TOKEN}).encode()
    r = requests.post(
        meta.events_url(), data=iter([body[:50], body[50:]]), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert r.status_code == 200 and len(meta.accepted_events) == 1
    for ctype, raw in [("application/json", b"{not json"), ("text/plain", b"x"), ("multipart/form-data", b"--x--")]:
        r = requests.post(meta.events_url(), data=raw, headers={"Content-Type": ctype}, timeout=10)
        assert r.status_code == 400 and err(r)["code"] == 100


# ---------------------------------------------------------------- hostile answers
def test_redirect_names_another_host_and_accepts_nothing(meta):
    meta.fail_next("redirect", to="https://elsewhere.example/v26.0/1/events")
    meta.fail_next("redirect", status=301, to="http://127.0.0.1:9/")
    r = requests.post(
        meta.events_url(), json={"data": [event()], "access_token": TOKEN}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 307 and r.headers["Location"] == "https://elsewhere.example/v26.0/1/events"
    r = requests.post(
        meta.events_url(), json={"data": [event()], "access_token": TOKEN}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 301 and r.headers["Location"] == "http://127.0.0.1:9/"
    assert meta.accepted_events == []


def test_too_large_by_size_limit_and_as_a_fault(meta):
    meta.max_request_bytes = 2000
    r = post(meta, [event(i) for i in range(10)])
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("text/html")
    assert post(meta, [event(0)]).status_code == 200
    meta.max_request_bytes = None
    meta.fail_next("too_large")
    meta.fail_next("too_large", json=True)
    assert post(meta, [event(1)]).status_code == 413
    r = post(meta, [event(1)])
    assert r.status_code == 413 and err(r)["message"] == "Request Entity Too Large"
    assert [e["event_id"] for e in meta.accepted_events] == ["ev-0"]
    assert [r.body_bytes > 2000 for r in meta.requests] == [True, False, False, False]


def test_echo_repeats_the_secrets_it_was_sent(meta):
    meta.fail_next("echo")
    r = post(meta, [event()], appsecret_proof="proof-1")
    e = err(r)
    assert r.status_code == 400 and e["code"] == 100
    for text in (e["message"], e["error_user_msg"], e["fbtrace_id"], r.headers["WWW-Authenticate"]):
        assert TOKEN in text
    assert "proof-1" in e["error_user_msg"]


def test_echo_on_the_token_endpoints(app_meta):
    app_meta.fail_next("echo", on="token")
    e = err(exchange(app_meta))
    assert "s3cret" in e["message"] and TOKEN in e["error_user_msg"]
    assert exchange(app_meta).status_code == 200  # the fault answered one request
    assert app_meta.pending_faults == []  # event posts have a queue of their own


@pytest.mark.parametrize(
    "how, error",
    [
        ("length", requests.exceptions.ChunkedEncodingError),
        ("chunked", requests.exceptions.ChunkedEncodingError),
        ("gzip", requests.exceptions.ContentDecodingError),
        ("reset", requests.ConnectionError),
    ],
)
def test_cut_answers_come_after_the_events_were_accepted(meta, how, error):
    meta.fail_next("cut", how=how)
    with pytest.raises(error):
        post(meta, [event(0)])
    assert [e["event_id"] for e in meta.accepted_events] == ["ev-0"]
    assert post(meta, [event(1)]).status_code == 200  # the next answer is whole
    with pytest.raises(ValueError):
        meta.fail_next("cut", how="sideways")


def test_dribble_sends_one_byte_per_interval(meta):
    meta.fail_next("dribble", interval=0.05)
    with socket.create_connection(("127.0.0.1", meta.port), timeout=10) as conn:
        body = json.dumps({"data": [event()], "access_token": TOKEN}).encode()
        head = f"POST /v26.0/{DS}/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        conn.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        started = time.monotonic()
        first = conn.recv(100)
        second = conn.recv(100)
        assert (first, second) == (b"H", b"T")
        assert time.monotonic() - started >= 0.04
    assert len(meta.accepted_events) == 1


def test_a_dribbling_answer_ends_when_the_fake_stops():
    m = FakeMeta(token=TOKEN, dataset_ids=[DS], now=NOW).start()
    m.fail_next("dribble", interval=5)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, m, [event()])
        time.sleep(0.2)
        t0 = time.monotonic()
        m.stop()
        with pytest.raises(requests.RequestException):
            pending.result(timeout=10)
    assert time.monotonic() - t0 < 5
