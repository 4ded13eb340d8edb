"""Settings files, key hashing, the rate limiter, and `kolgraph serve` / `kolgraph api-key`
as a user runs them (the server in a subprocess, with two workers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from kolgraph.api import security
from kolgraph.api.security import KeyRing, RateLimiter, hash_key, new_key, verify_key
from kolgraph.api.settings import CONFIG_ENV, KEYS_ENV, STORES_ENV, Settings, load_settings

from kolgraph.cli import main
from kolgraph.exceptions import InputError


def _entry(stores=("alpha",), method="sha256", **extra) -> tuple[str, dict]:
    key_id, key = new_key()
    return key, {"id": key_id, "tenant": "acme", "hash": hash_key(key, method),
                 "stores": list(stores), **extra}


def _toml(entry: dict) -> str:
    return "[[keys]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in entry.items()) + "\n"


def test_toml_and_json_config_with_env_keys(tmp_path):
    key, entry = _entry(scopes=["followers"], min_count=5)
    (tmp_path / "svc.toml").write_text(
        "[service]\nmax_creators = 10\nrate_limit = 3.5\n\n[stores]\nalpha = \"data/alpha.kg\"\n\n"
        + _toml(entry))
    _, env_entry = _entry(stores=["*"])
    s = load_settings(tmp_path / "svc.toml", env={KEYS_ENV: json.dumps([env_entry])})
    assert s.max_creators == 10 and s.rate_limit == 3.5
    assert s.stores == {"alpha": str(tmp_path / "data" / "alpha.kg")}  # relative to the file
    assert [k.tenant for k in s.keys] == ["acme", "acme"] and s.keys[1].stores == ("*",)
    assert s.keys[0].scopes == {"followers"} and s.keys[0].min_count == 5
    (tmp_path / "svc.json").write_text(json.dumps({"stores": {"alpha": "/x.kg"}, "keys": [entry]}))
    assert load_settings(tmp_path / "svc.json", env={}).keys[0].id == entry["id"]


@pytest.mark.parametrize("text, needle", [
    ("[servce]\n", "unknown section"),
    ("[service]\nmax_creatrs = 3\n", "max_creatrs"),
    ("[service]\nmax_creators = 5000\n", "max_creators must be"),
    ("[service]\nrate_limit = 0\n", "rate_limit"),
    ("[[keys]]\nid = \"abcd\"\ntenant = \"t\"\nhash = \"md5:00\"\nstores = [\"alpha\"]\n", "hash must be"),
    ("[[keys]]\nid = \"abcd\"\ntenant = \"t\"\nstores = [\"alpha\"]\n", "missing ['hash']"),
    ("[[keys]]\nid = \"a\"\ntenant = \"t\"\nhash = \"sha256:" + "0" * 64 + "\"\nstores = []\n", "id must be"),
    ("[[keys]]\nid = \"abcd\"\ntenant = \"t\"\nhash = \"sha256:" + "0" * 64 + "\"\nstores = [\"zeta\"]\n",
     "unknown store(s) ['zeta']"),
    ("[[keys]]\nid = \"abcd\"\ntenant = \"t\"\nhash = \"sha256:" + "0" * 64 + "\"\nstores = [\"alpha\"]\n"
     "scopes = [\"admin\"]\n", "unknown scope"),
    ("this is = = not toml", "cannot parse"),
])
def test_bad_config_names_the_problem(tmp_path, text, needle):
    f = tmp_path / "svc.toml"
    f.write_text("[stores]\nalpha = \"a.kg\"\n" + text if not text.startswith("[stores]") else text)
    with pytest.raises(InputError) as exc:
        load_settings(f, env={})
    assert needle in str(exc.value) and str(f) in str(exc.value)


def test_duplicate_key_ids_and_missing_file(tmp_path):
    _, e = _entry()
    f = tmp_path / "svc.toml"
    f.write_text("[stores]\nalpha = \"a.kg\"\n" + _toml(e) + _toml(e))
    with pytest.raises(InputError, match="used twice"):
        load_settings(f, env={})
    with pytest.raises(InputError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_stores_in_code_beat_the_environment_which_beats_the_file(tmp_path):
    f = tmp_path / "svc.toml"
    f.write_text("[stores]\na = \"a.kg\"\nb = \"b.kg\"\nc = \"c.kg\"\n")
    env = {CONFIG_ENV: str(f), STORES_ENV: json.dumps({"b": "/env/b.kg", "c": "/env/c.kg"})}
    s = load_settings(env=env, stores={"c": "/cli/c.kg"})
    assert s.stores == {"a": str(tmp_path / "a.kg"), "b": "/env/b.kg", "c": "/cli/c.kg"}
    assert Settings(stores={"x": "/x.kg"}).stores == {"x": "/x.kg"}  # built in code: no env


@pytest.mark.parametrize("env, needle", [
    ({KEYS_ENV: "[1"}, "$KOLGRAPH_API_KEYS: not valid JSON"),
    ({KEYS_ENV: "{}"}, "$KOLGRAPH_API_KEYS: expected a JSON list"),
    ({STORES_ENV: "[]"}, "$KOLGRAPH_API_STORES: expected a JSON object"),
    ({KEYS_ENV: json.dumps([{"id": "abcd", "tenant": "t"}])}, "keys[0]: missing ['hash', 'stores']"),
])
def test_bad_environment_names_the_variable_or_key(env, needle):
    with pytest.raises(InputError) as exc:
        load_settings(env=env)
    assert needle in str(exc.value)


def test_wrong_types_name_the_key(tmp_path):
    f = tmp_path / "svc.toml"
    f.write_text("[service]\nmax_creators = \"many\"\nwarm_up = \"maybe\"\n")
    with pytest.raises(InputError, match="max_creators must be a valid integer") as exc:
        load_settings(f, env={})
    assert "warm_up must be a valid boolean" in str(exc.value)


@pytest.mark.parametrize("method", ["scrypt", "sha256"])
def test_hashes_verify_only_their_key(method):
    _, key = new_key()
    stored = hash_key(key, method)
    assert stored.startswith(method + ":") and key not in stored
    assert verify_key(key, stored)
    assert not verify_key(key + "x", stored) and not verify_key(new_key()[1], stored)
    assert hash_key(key, method) != stored or method == "sha256"  # scrypt salts differ


def test_keyring_runs_scrypt_once_per_key(monkeypatch):
    key, entry = _entry(method="scrypt")
    from kolgraph.api.settings import key_entry

    ring = KeyRing([key_entry(entry, "t")], default_min_count=3)
    calls = []
    real = security.verify_key
    monkeypatch.setattr(security, "verify_key", lambda k, s: calls.append(1) or real(k, s))
    assert ring.entry_id("kg_zzzz9999_" + "a" * 43) is None  # unknown id: no hashing at all
    kid = ring.entry_id(key)
    for _ in range(3):
        p = ring.verify(kid, key)
        assert p.tenant == "acme" and p.min_count == 3
    assert len(calls) == 1
    wrong = key[:-2] + ("zz" if not key.endswith("zz") else "yy")
    assert ring.verify(kid, wrong) is None and len(calls) == 2


def test_rate_limiter_refills_at_its_rate():
    now = [100.0]
    lim = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [lim.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.take("a") == pytest.approx(0.5)
    assert lim.take("b") == 0.0  # another key has its own bucket
    now[0] += 0.5
    assert lim.take("a") == 0.0 and lim.take("a") > 0


def test_api_key_command_prints_a_working_entry(capsys):
    assert main(["api-key", "--tenant", "acme", "--stores", "alpha", "--scope", "followers",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["entry"]["tenant"] == "acme" and out["entry"]["scopes"] == ["followers"]
    assert verify_key(out["key"], out["entry"]["hash"])
    assert out["toml"].startswith("[[keys]]") and out["key"] not in out["toml"]


def test_serve_refuses_missing_stores_and_bad_config(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing.kg"), "--port", "1"]) == 4
    assert "missing.kg" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[service]\nwho = 1\n")
    assert main(["serve", "--config", str(tmp_path / "bad.toml")]) == 3
    assert "who" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_kolgraph_serve_with_two_workers(tmp_path, stores, server):
    key, entry = _entry(stores=["alpha"], method="scrypt")
    cfg = tmp_path / "svc.toml"
    cfg.write_text("[service]\nmax_creators = 8\n\n" + _toml(entry))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kolgraph", "serve", f"alpha={stores['alpha']}", "--config", str(cfg),
         "--port", str(port), "--workers", "2", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("KOLGRAPH_API")})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a fresh machine compiles the kernels in both workers
        g = server.graphs["alpha"]
        ids = g.creators.column("id").to_pylist()[:5]
        h = {"Authorization": f"Bearer {key}"}

        def reach(body):
            """POST /v1/reach, waiting while the worker that answers is still warming up."""
            while True:
                assert proc.poll() is None, proc.stdout.read()
                try:
                    r = httpx.post(url + "/v1/reach", json=body, headers=h, timeout=30)
                    if r.status_code != 503:
                        return r
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the workers never became ready"
                time.sleep(0.2)

        for _ in range(6):  # both workers answer (they share the mapped store)
            r = reach({"ids": ids})
            assert r.status_code == 200, r.text
            assert r.json()["unique_reach"] == g.reach(ids).unique_reach
        r = reach({"ids": list(range(9))})
        assert r.status_code == 422 and r.json()["error"] == "too_many_creators"  # from --config
        assert httpx.get(url + "/v1/stores", timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
