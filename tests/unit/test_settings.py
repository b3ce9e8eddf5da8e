from __future__ import annotations

from pathlib import Path

import pytest

from db.settings import ConfigError, load_settings, load_settings_or_exit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "CBRTL_DATABASE_URL",
        "CBRTL_BROKER_URL",
        "CBRTL_REDIS_URL",
        "CBRTL_STORAGE_URL",
        "CBRTL_SECRET_KEY",
        "CBRTL_ENV",
        "PORT",
        "CBRTL_PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CBRTL_DATA_DIR", str(tmp_path))


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'cbrtl.db'}"
    assert settings.resolved_broker_url == "filesystem://"
    assert settings.resolved_storage_url == f"file://{tmp_path / 'media'}"
    assert settings.redis_url is None
    assert settings.port == 5000


def test_secret_key_is_generated_once(tmp_path: Path) -> None:
    first = load_settings().resolved_secret_key
    assert len(first) >= 32
    assert load_settings().resolved_secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_requires_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CBRTL_ENV", "production")
    with pytest.raises(ConfigError, match=r"^CBRTL_SECRET_KEY: required"):
        load_settings().resolved_secret_key  # noqa: B018


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("CBRTL_DATABASE_URL", "mysql://x"),
        ("CBRTL_BROKER_URL", "redis://localhost"),
        ("CBRTL_REDIS_URL", "http://x"),
        ("CBRTL_STORAGE_URL", "s3://"),
        ("CBRTL_ENV", "staging"),
        # Kept home rows would outlive the signed URLs in them (default 21600 s).
        ("CBRTL_HOME_ROWS_TTL_S", "3000"),
        # The public URL is a bare http(s) origin.
        *(
            ("CBRTL_PUBLIC_URL", url)
            for url in (
                "cbrtl.example",
                "ftp://cbrtl.example",
                "https://",
                "https://cbrtl.example/app",
                "https://cbrtl.example?x=1",
                "https://cbrtl.example#top",
                "https://user@cbrtl.example",
                "https://cbrtl.example:http",
            )
        ),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{name}: ")
    assert "\n" not in str(caught.value)


def test_production_secret_key_needs_32_bytes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CBRTL_ENV", "production")
    monkeypatch.setenv("CBRTL_SECRET_KEY", "x" * 31)
    monkeypatch.setenv("CBRTL_PUBLIC_URL", "https://cbrtl.example")
    with pytest.raises(SystemExit) as stopped:
        load_settings_or_exit()
    assert stopped.value.code != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert "CBRTL_SECRET_KEY: " in line and "32 bytes" in line
    monkeypatch.setenv("CBRTL_SECRET_KEY", "x" * 32)
    assert load_settings_or_exit().resolved_secret_key == "x" * 32


def test_public_url_defaults_to_the_local_port(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().resolved_public_url == "http://127.0.0.1:5000"
    monkeypatch.setenv("PORT", "8123")
    assert load_settings().resolved_public_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("CBRTL_PUBLIC_URL", "https://cbrtl.example/")
    assert load_settings().resolved_public_url == "https://cbrtl.example"


def test_production_requires_a_public_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Links to 127.0.0.1 would work for no viewer: production says where it lives.
    monkeypatch.setenv("CBRTL_ENV", "production")
    monkeypatch.setenv("CBRTL_SECRET_KEY", "k" * 48)
    with pytest.raises(SystemExit) as stopped:
        load_settings_or_exit()
    assert stopped.value.code != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert "CBRTL_PUBLIC_URL: required when CBRTL_ENV=production" in line
    monkeypatch.setenv("CBRTL_PUBLIC_URL", "https://cbrtl.example")
    assert load_settings_or_exit().resolved_public_url == "https://cbrtl.example"
