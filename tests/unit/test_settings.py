"""Settings.from_env: the defaults API.md gives and the refusals at start."""
from __future__ import annotations

from pathlib import Path

import pytest

import tms_scheduler
from tms_scheduler.settings import Settings, SettingsError

PROJECT_ROOT = Path(tms_scheduler.__file__).resolve().parent.parent
TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "token", "TWILIO_FROM_NUMBER": "+17145550100"}
# As `python3 -c 'import secrets; print(secrets.token_hex(32))'` makes one.
STRONG_KEY = "9c41e07b5a2d8f63b1e4c97a05d2f8e61b3a7c94d0e25f8a6b1c3d7e9f024a5b"
PRODUCTION = {"TMS_ENV": "production", "SECRET_KEY": STRONG_KEY, **TWILIO}


def test_database_url_defaults_to_instance_tms_db_under_the_project_root():
    assert Settings.from_env({}).database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'tms.db'}"


def test_the_default_database_is_the_same_file_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'tms.db'}"


def test_a_relative_sqlite_url_is_resolved_under_the_project_root():
    url = Settings.from_env({"DATABASE_URL": "sqlite:///var/other.db"}).database_url
    assert url == f"sqlite:///{PROJECT_ROOT / 'var' / 'other.db'}"


def test_an_absolute_sqlite_url_is_kept():
    assert Settings.from_env({"DATABASE_URL": "sqlite:////tmp/tms.db"}).database_url == "sqlite:////tmp/tms.db"


def test_an_in_memory_sqlite_url_is_kept():
    assert Settings.from_env({"DATABASE_URL": "sqlite:///:memory:"}).database_url == "sqlite:///:memory:"


def test_a_postgresql_url_is_kept():
    url = "postgresql+psycopg://tms:pw@db:5432/tms"
    assert Settings.from_env({"DATABASE_URL": url}).database_url == url


def test_the_environment_defaults_to_development():
    assert Settings.from_env({}).env == "development"


def test_the_sms_backend_defaults_to_log_without_twilio_settings():
    assert Settings.from_env({}).sms_backend == "log"


def test_the_sms_backend_defaults_to_twilio_when_the_twilio_settings_are_present():
    assert Settings.from_env(TWILIO).sms_backend == "twilio"


def test_a_messaging_service_sid_is_a_sender_too():
    env = {**TWILIO, "TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}
    assert Settings.from_env(env).sms_backend == "twilio"


def test_twilio_settings_without_a_sender_leave_the_log_backend():
    env = {**TWILIO, "TWILIO_FROM_NUMBER": ""}
    assert Settings.from_env(env).sms_backend == "log"


def test_sms_backend_log_can_be_chosen_with_twilio_settings_present():
    assert Settings.from_env({**TWILIO, "SMS_BACKEND": "log"}).sms_backend == "log"


def test_sms_backend_twilio_without_twilio_settings_is_refused():
    with pytest.raises(SettingsError):
        Settings.from_env({"SMS_BACKEND": "twilio"})


def test_an_unknown_sms_backend_is_refused():
    with pytest.raises(SettingsError):
        Settings.from_env({"SMS_BACKEND": "carrier-pigeon"})


def test_other_defaults_follow_api_md():
    settings = Settings.from_env({})
    assert settings.twilio_api_url == "https://api.twilio.com"
    assert settings.public_base_url == "http://127.0.0.1:5000"
    assert settings.scheduler_poll_seconds == 30


def test_trailing_slashes_are_taken_off_the_base_urls():
    settings = Settings.from_env({"PUBLIC_BASE_URL": "https://tms.example.org/", "TWILIO_API_URL": "http://mock:8080/"})
    assert (settings.public_base_url, settings.twilio_api_url) == ("https://tms.example.org", "http://mock:8080")


def test_development_makes_a_random_secret_key_per_start():
    first, second = Settings.from_env({}).secret_key, Settings.from_env({}).secret_key
    assert first != second
    assert len(first) >= 32


def test_a_given_secret_key_is_used():
    assert Settings.from_env({"SECRET_KEY": "k" * 40}).secret_key == "k" * 40


def test_the_secret_key_and_auth_token_stay_out_of_the_repr():
    text = repr(Settings.from_env({**TWILIO, "SECRET_KEY": "very-secret-key"}))
    assert "very-secret-key" not in text
    assert "token" not in text.replace("token_ttl", "")


def test_production_with_a_secret_key_and_twilio_settings_starts():
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production
    assert settings.sms_backend == "twilio"


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"})


def test_production_refuses_to_start_with_an_empty_secret_key():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": ""})


def test_production_refuses_to_start_with_a_secret_key_shorter_than_32_characters():
    with pytest.raises(SettingsError, match="SECRET_KEY of at least 32 characters"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": STRONG_KEY[:31]})


def test_production_starts_with_a_random_secret_key_of_32_characters():
    assert Settings.from_env({**PRODUCTION, "SECRET_KEY": STRONG_KEY[:32]}).secret_key == STRONG_KEY[:32]


@pytest.mark.parametrize("key", [
    "CHANGE-ME-64-random-hex-characters",
    "9c41e07b5a2d8f63changeme1e4c97a05d2f8e61b3a7c94",
    "9c41e07b5a2d8f63Change_Me1e4c97a05d2f8e61b3a7c94",
    "my-super-SECRET-key-for-the-clinic-2027",
    "replace-me-with-64-random-hex-characters-please",
])
def test_production_refuses_to_start_with_a_placeholder_secret_key(key):
    with pytest.raises(SettingsError, match="SECRET_KEY is a placeholder"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": key})


def test_production_refuses_to_start_with_a_secret_key_of_one_repeated_character():
    with pytest.raises(SettingsError, match="SECRET_KEY has fewer than 8 different characters"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": "s" * 64})


def test_production_refuses_to_start_with_a_secret_key_of_a_few_characters_repeated():
    with pytest.raises(SettingsError, match="SECRET_KEY has fewer than 8 different characters"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": "0123456" * 8})


def test_a_refused_secret_key_is_not_quoted_in_the_message():
    key = "3f9a" * 4 + "CHANGE-ME" + "b7e1" * 4

    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**PRODUCTION, "SECRET_KEY": key})

    assert "3f9a" not in str(refused.value) and "b7e1" not in str(refused.value)


def test_the_production_example_file_is_refused_until_its_secret_key_is_set():
    lines = (PROJECT_ROOT / "config" / "production.env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))

    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(example)
    assert Settings.from_env({**example, "SECRET_KEY": STRONG_KEY}).is_production


def test_development_takes_any_secret_key_given():
    assert Settings.from_env({"SECRET_KEY": "dev"}).secret_key == "dev"


def test_production_refuses_to_start_without_twilio_settings():
    with pytest.raises(SettingsError, match="TWILIO"):
        Settings.from_env({"TMS_ENV": "production", "SECRET_KEY": STRONG_KEY})


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"])
def test_production_refuses_to_start_without_each_twilio_setting(missing):
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env({k: v for k, v in PRODUCTION.items() if k != missing})


def test_production_refuses_to_start_on_the_log_backend_without_twilio_settings():
    with pytest.raises(SettingsError):
        Settings.from_env({"TMS_ENV": "production", "SECRET_KEY": STRONG_KEY, "SMS_BACKEND": "log"})


def test_an_unknown_environment_is_refused():
    with pytest.raises(SettingsError):
        Settings.from_env({"TMS_ENV": "staging"})


def test_scheduler_poll_seconds_is_read_as_a_whole_number():
    assert Settings.from_env({"SCHEDULER_POLL_SECONDS": "45"}).scheduler_poll_seconds == 45


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-5"])
def test_a_bad_scheduler_poll_seconds_is_refused(value):
    with pytest.raises(SettingsError, match="SCHEDULER_POLL_SECONDS"):
        Settings.from_env({"SCHEDULER_POLL_SECONDS": value})


def test_trusted_proxies_defaults_to_none():
    assert Settings.from_env({}).trusted_proxies == 0


def test_trusted_proxies_is_read_as_the_number_of_proxies_in_front():
    assert Settings.from_env({"TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    assert Settings.from_env({"TRUSTED_PROXIES": "0"}).trusted_proxies == 0


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_a_bad_trusted_proxies_is_refused(value):
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": value})
