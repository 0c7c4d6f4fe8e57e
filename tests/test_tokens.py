"""`python -m exporter token check|refresh` against the fake Graph API."""

from __future__ import annotations

import stat

import pytest
from conftest import TOKEN

from exporter.cli import main


@pytest.fixture
def token_env(monkeypatch, meta):
    meta.app_secret = "app-secret-1"
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("META_APP_ID", meta.app_id)
    monkeypatch.setenv("META_APP_SECRET", "app-secret-1")
    monkeypatch.setenv("META_GRAPH_URL", meta.url)
    return meta


def test_refresh_writes_a_long_lived_token_to_a_private_file(token_env, tmp_path, capsys):
    output = tmp_path / "token"
    assert main(["token", "refresh", "--output", str(output)]) == 0
    new_token = output.read_text().strip()
    assert new_token in token_env.issued_tokens
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    printed = capsys.readouterr()
    assert new_token not in printed.out + printed.err and TOKEN not in printed.out + printed.err
    assert "valid for 60 days" in printed.out
    assert not any(TOKEN in line or new_token in line for line in token_env.request_lines)


def test_check_reports_expiry_and_asks_for_renewal_when_close(token_env, capsys, monkeypatch):
    token_env.add_token("EAAshort", expires_at=int(__import__("time").time()) + 3 * 86400)
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAshort")
    assert main(["token", "check"]) == 1
    out = capsys.readouterr().out
    assert "token is valid until" in out and "renew it now" in out
    assert main(["token", "check", "--renew-days", "1"]) == 0


def test_check_of_a_system_user_token_that_never_expires(token_env, capsys):
    assert main(["token", "check"]) == 0
    assert "does not expire" in capsys.readouterr().out


def test_check_of_an_expired_token(token_env, capsys):
    token_env.expire_token(after=0)
    assert main(["token", "check"]) == 2
    assert "not valid" in capsys.readouterr().err


def test_token_commands_need_the_app_credentials(token_env, monkeypatch, capsys):
    monkeypatch.delenv("META_APP_SECRET")
    assert main(["token", "check"]) == 2
    assert "Set META_APP_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("META_APP_ID", "１２３", "META_APP_ID must be ASCII digits"),
        ("META_APP_ID", "app-1", "META_APP_ID must be ASCII digits"),
        ("META_API_VERSION", "v٢٦.٠", "looks like v26.0"),
        ("META_GRAPH_URL", "http://0.0.0.0:PORT", "https"),  # this machine, but not a loopback address
    ],
)
def test_token_commands_check_their_settings_before_any_request(token_env, monkeypatch, capsys, name, value, message):
    monkeypatch.setenv(name, value.replace("PORT", str(token_env.port)))
    assert main(["token", "check"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert token_env.requests == []


@pytest.mark.parametrize("days", ["-1", "nan"])
def test_renew_days_must_be_a_number_of_days(token_env, capsys, days):
    assert main(["token", "check", "--renew-days", days]) == 2
    assert "--renew-days takes" in capsys.readouterr().err
    assert token_env.requests == []


def test_logging_flags_may_come_before_the_subcommand(token_env, capsys):
    assert main(["-q", "token", "check"]) == 0
    assert "does not expire" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["refresh", "--output", "TOKEN_FILE"], ["check"]])
def test_a_wrong_app_secret_is_a_setting_to_fix(token_env, monkeypatch, tmp_path, capsys, command):
    monkeypatch.setenv("META_APP_SECRET", "not-the-app-secret")
    output = tmp_path / "token"
    assert main(["token", *(str(output) if arg == "TOKEN_FILE" else arg for arg in command)]) == 2
    err = capsys.readouterr().err
    assert "Meta refused the token or the app credentials" in err and "META_APP_SECRET" in err
    assert len(err.strip().splitlines()) == 1 and "not-the-app-secret" not in err, err
    assert not output.exists()
