"""The review app over real HTTP (uvicorn on 127.0.0.1): security rules, writes, two
concurrent clients, export."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from imr_llm.review.server import ReviewServer, resolve_token
from imr_llm.review.store import STORE_NAME, open_store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("audit")
    letters = base / "letters"
    letters.mkdir()
    for p in EXAMPLES.glob("*.txt"):
        shutil.copy(p, letters / p.name)
    subprocess.run(
        [sys.executable, "-m", "imr_llm.cli", "audit", str(letters), "--out", str(base / "out")]
        + ["-q", "--fail-on", "never"],
        check=True,
        timeout=300,
    )
    return base / "out"


@pytest.fixture
def out(audited: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "out"
    shutil.copytree(audited, dest)
    return dest


def call(url: str, body=None, headers=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class Running:
    def __init__(self, out: Path, **kw):
        self.server = ReviewServer(out, port=0, **kw).start()
        self.url = self.server.url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.stop()


def first_finding(url: str) -> tuple[str, str]:
    _, _, raw = call(url + "api/index")
    idx = json.loads(raw)
    lid = idx["letters"][0]["id"]
    _, _, raw = call(url + "api/letter/" + lid)
    return lid, json.loads(raw)["findings"][0]["id"]


def test_security_headers_host_origin_and_assets(out: Path) -> None:
    with Running(out) as srv:
        status, headers, body = call(srv.url)
        assert status == 200
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "connect-src 'self'" in csp and "http" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        page = body.decode()
        assert "http://" not in page and "https://" not in page
        for name in ("review.js", "review.css", "report.css"):
            status, _, asset = call(srv.url + "static/" + name)
            assert status == 200 and b"http://" not in asset and b"https://" not in asset
        assert call(srv.url + "static/..%2Fstore.py")[0] == 404
        assert call(srv.url + "static/store.py")[0] == 404
        # DNS rebinding: a Host header that is not this server's is refused
        assert call(srv.url + "api/index", headers={"Host": "evil.example:80"})[0] == 421
        lid, fid = first_finding(srv.url)
        verdict = {"letter_id": lid, "finding_id": fid, "verdict": "confirmed", "reviewer": "Ann"}
        port = srv.server.port
        assert call(srv.url + "api/verdict", verdict, {"Origin": "http://evil.example"})[0] == 403
        assert call(srv.url + "api/verdict", verdict, {"Sec-Fetch-Site": "cross-site"})[0] == 403
        form = urllib.request.Request(srv.url + "api/verdict", data=b"verdict=confirmed")
        form.add_header("Content-Type", "application/x-www-form-urlencoded")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(form, timeout=30)
        assert exc.value.code == 415
        assert open_store(out).events() == []
        ok = call(srv.url + "api/verdict", verdict, {"Origin": f"http://127.0.0.1:{port}"})
        assert ok[0] == 200
        bad = dict(verdict, verdict="maybe")
        status, _, body = call(srv.url + "api/verdict", bad)
        assert status == 400 and b"verdict must be one of" in body
        status, _, body = call(srv.url + "api/verdict", dict(verdict, finding_id="nope"))
        assert status == 400
        assert call(srv.url + "api/letter/..%2F..%2Fetc%2Fpasswd")[0] == 404
        assert call(srv.url + "pdf/" + lid)[0] == 404  # a .txt letter has no PDF
        assert len(open_store(out).events()) == 1


def test_token_required_on_every_request(out: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="--token"):
        resolve_token("0.0.0.0", False)
    monkeypatch.setenv("IMR_REVIEW_TOKEN", "s3cret-token")
    assert resolve_token("0.0.0.0", True) == "s3cret-token"
    with Running(out, token="s3cret-token") as srv:
        assert call(srv.url)[0] == 401
        assert call(srv.url + "api/index")[0] == 401
        assert call(srv.url + "static/review.js")[0] == 401
        assert call(srv.url + "api/index", headers={"Authorization": "Bearer wrong"})[0] == 401
        auth = {"Authorization": "Bearer s3cret-token"}
        assert call(srv.url + "api/index", headers=auth)[0] == 200
        # the printed URL trades the token for an HttpOnly, SameSite=Strict cookie
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(srv.server.login_url, timeout=30) as resp:
            assert resp.status == 200 and resp.url == srv.url
        with opener.open(srv.url + "api/index", timeout=30) as resp:
            assert resp.status == 200
        jar = opener.handlers
        cookie_proc = next(h for h in jar if isinstance(h, urllib.request.HTTPCookieProcessor))
        (cookie,) = list(cookie_proc.cookiejar)
        assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()


def test_two_concurrent_http_sessions_lose_nothing(out: Path) -> None:
    with Running(out) as srv:
        _, _, raw = call(srv.url + "api/index")
        letters = [r["id"] for r in json.loads(raw)["letters"] if r["nf"]]
        targets = []
        for lid in letters:
            _, _, raw = call(srv.url + "api/letter/" + lid)
            targets += [(lid, f["id"]) for f in json.loads(raw)["findings"]]
        n = 30
        failures: list = []

        def session(name: str) -> None:
            for i in range(n):
                lid, fid = targets[i % len(targets)]
                status, _, body = call(
                    srv.url + "api/verdict",
                    {
                        "letter_id": lid,
                        "finding_id": fid,
                        "verdict": ("confirmed", "dismissed", "unsure")[i % 3],
                        "reviewer": name,
                        "note": f"{name}-{i}",
                        "base_seq": 0,
                    },
                )
                if status != 200:
                    failures.append((name, i, status, body))

        threads = [threading.Thread(target=session, args=(f"s{k}",)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        events = open_store(out).events()
        assert sorted(e.note for e in events) == sorted(
            f"s{k}-{i}" for k in range(2) for i in range(n)
        )
        assert len({e.seq for e in events}) == 2 * n

    # the app refreshed report.html with the review column when it stopped
    html = (out / "report.html").read_text()
    assert '"reviews":{"reviewed":' in html


def test_export_formats(out: Path, tmp_path: Path) -> None:
    with Running(out) as srv:
        lid, fid = first_finding(srv.url)
        call(
            srv.url + "api/verdict",
            {
                "letter_id": lid,
                "finding_id": fid,
                "verdict": "dismissed",
                "reason": "the letter is consistent on a full reading",
                "reviewer": "Ann",
            },
        )
    cmd = [sys.executable, "-m", "imr_llm.cli", "review", "export", str(out)]
    rows = subprocess.run(cmd + ["--format", "jsonl"], capture_output=True, text=True, check=True)
    (row,) = [json.loads(line) for line in rows.stdout.splitlines()]
    assert (row["letter_id"], row["finding_id"], row["verdict"], row["origin"]) == (
        lid,
        fid,
        "dismissed",
        "tool",
    )
    csv_out = subprocess.run(cmd + ["--format", "csv"], capture_output=True, text=True, check=True)
    assert csv_out.stdout.splitlines()[0].startswith("letter_id,finding_id,origin,code")
    ev = subprocess.run(
        cmd + ["--events", "--format", "jsonl"], capture_output=True, text=True, check=True
    )
    assert json.loads(ev.stdout)["kind"] == "verdict"
    assert (out / STORE_NAME).exists()
