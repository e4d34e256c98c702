"""The review server as a client sees it (real `mastlens review` process, plain HTTP): the token guard,
CSRF, bounded bodies, clear 400s, the secret kept out of the store and the log, and two processes
saving on one store at once."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from _report_data import build_store
from _review_server import start_review

from mastlens.review import history
from mastlens.store import Store


@pytest.fixture
def served(store, db_path, tmp_path):
    ids = build_store(store, per_model=4)
    server = start_review(db_path, tmp_path, "--set", "judge-a", "--as", "ann", "--sample", "12", "--seed", "3")
    yield server, ids
    server.stop()


def _session(server) -> httpx.Client:  # noqa: ANN001
    client = httpx.Client(base_url=server.base, timeout=60)
    first = client.get("/", params={"token": server.token})
    assert first.status_code == 303
    assert "token" not in first.headers["location"]
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and server.token.lower() not in cookie
    return client


def _form(client: httpx.Client, position: int) -> dict[str, str]:
    html = client.get(f"/item/{position}").text
    return {name: value for name, value in re.findall(r'name="(csrf|trace_hash)" value="([^"]*)"', html)}


def test_every_request_needs_the_token(served):
    server, _ = served
    with httpx.Client(base_url=server.base, timeout=60) as anon:
        for path in ("/", "/item/0", "/agreement", "/static/review.js", "/item/0/step/0"):
            assert anon.get(path).status_code == 403, path
        assert anon.get("/", params={"token": "wrong"}).status_code == 403
        assert anon.post("/item/0", data={"status:FM-1.1": "present"}).status_code == 403
        anon.cookies.set("mastlens_review", server.token)  # the raw secret is not the session value
        assert anon.get("/").status_code == 403
    client = _session(server)
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")


def test_state_changes_need_the_csrf_token(served, store):
    server, _ = served
    client = _session(server)
    form = _form(client, 0)
    assert client.post("/item/0", data={"trace_hash": form["trace_hash"], "status:FM-1.1": "present"}).status_code == 403
    assert client.post("/item/0", data={**form, "csrf": "0" * 64, "status:FM-1.1": "present"}).status_code == 403
    foreign = client.post("/item/0", data={**form, "status:FM-1.1": "present"}, headers={"origin": "http://evil.test"})
    assert foreign.status_code == 403
    assert history(store, "human:ann") == []
    ok = client.post("/item/0", data={**form, "status:FM-1.1": "present"})
    assert ok.status_code == 303 and ok.headers["location"] == "/item/1"
    assert [(d["mode_id"], d["status"], d["reviewer"]) for d in history(store, "human:ann")] == [
        ("FM-1.1", "present", "ann")]


def test_bodies_are_bounded_and_bad_values_get_a_clear_400(served, store):
    server, _ = served
    client = _session(server)
    form = _form(client, 0)
    big = client.post("/item/0", data={**form, "note:FM-1.1": "x" * 400_000})
    assert big.status_code == 413
    cases = [
        ({"status:FM-1.1": "maybe"}, "FM-1.1: status must be present, absent or not_assessed"),
        ({"status:FM-1.1": "present", "step:FM-1.1": "-3"}, "FM-1.1: step must be a step number"),
        ({"status:FM-1.1": "present", "step:FM-1.1": "99999"}, "FM-1.1: step must be a step number"),
        ({"status:FM-9.9": "present"}, "names no mode"),
        ({"status:FM-1.1": "present", "note:FM-1.1": "n" * 2001}, "at most 2000"),
    ]
    for extra, message in cases:
        response = client.post("/item/0", data={**form, **extra})
        assert response.status_code == 400, extra
        assert message in response.text.replace("&#39;", "'")
        assert "Traceback" not in response.text
    many = client.post("/item/0", data={**form, **{f"x{i}": "1" for i in range(300)}})
    assert many.status_code == 400 and "Traceback" not in many.text
    no_hash = client.post("/item/0", data={"csrf": form["csrf"], "status:FM-1.1": "present"})
    assert no_hash.status_code == 400 and "trace_hash" in no_hash.text
    for query in ("outcome=maybe", "page=x", "page=0", "mode=FM-0", "state=later"):
        assert client.get(f"/?{query}").status_code == 400, query
    assert client.get("/item/999").status_code == 404
    assert client.get("/item/abc").status_code == 404
    assert client.get("/item/0/step/100000").status_code == 404
    assert history(store, "human:ann") == []


def test_secret_never_reaches_the_store_or_the_log(served, db_path):
    server, _ = served
    client = _session(server)
    form = _form(client, 1)
    client.post("/item/1", data={**form, "status:FM-2.2": "absent", "note:FM-2.2": "checked"})
    client.get("/agreement")
    client.get("/", params={"token": "wrong-" + server.token[:5]})
    server.stop()
    log = server.log()
    assert "GET /agreement 200" in log  # requests are logged, without their query string
    assert server.token not in log
    for suffix in ("", "-wal", "-shm"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            assert server.token.encode() not in path.read_bytes(), path.name
    with Store(db_path) as s:
        assert [d["note"] for d in history(s, "human:ann")] == ["checked"]


def test_two_processes_save_on_one_store_at_once(served, db_path, tmp_path, store):
    first, _ = served
    second = start_review(db_path, tmp_path, "--set", "judge-a", "--as", "bob", "--sample", "12", "--seed", "3",
                          name="second")
    try:
        clients = {"ann": (_session(first), range(0, 6)), "bob": (_session(second), range(6, 12))}
        forms = {who: {p: _form(c, p) for p in positions} for who, (c, positions) in clients.items()}
        errors: list[str] = []

        def work(who: str) -> None:
            client, positions = clients[who]
            for p in positions:
                r = client.post(f"/item/{p}", data={**forms[who][p], "status:FM-1.3": "present",
                                                    "note:FM-1.3": f"{who} {p}"})
                if r.status_code != 303:
                    errors.append(f"{who} {p}: {r.status_code}")

        threads = [threading.Thread(target=work, args=(who,)) for who in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        queue = [r[0] for r in store.conn.execute(
            "SELECT trace_id FROM review_queue_items i JOIN review_queues q ON q.id = i.queue_id "
            "WHERE q.human_set = 'human:ann' ORDER BY position")]
        for who, positions in (("ann", range(0, 6)), ("bob", range(6, 12))):
            rows = history(store, f"human:{who}")
            assert sorted((r["trace_id"], r["note"]) for r in rows) == sorted(
                (queue[p], f"{who} {p}") for p in positions)
            assert len(store.annotated_ids(f"human:{who}")) == 6
    finally:
        second.stop()
