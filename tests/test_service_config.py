"""The service's settings come from ALIGN_* variables, read once, with clear errors."""

from __future__ import annotations

import pytest

from align.service.config import ServiceConfig, ServiceConfigError


def test_defaults_are_a_local_open_service() -> None:
    config = ServiceConfig.from_env({})
    assert config.database_url == "sqlite:///align.db"
    assert (config.api_keys, config.cors_origins, config.workers) == ((), (), 2)


def test_variables_are_read_and_options_win() -> None:
    env = {
        "ALIGN_DATABASE_URL": "postgresql://u:p@db/align",
        "ALIGN_API_KEYS": " k1, k2 ,,",
        "ALIGN_WORKERS": "4",
        "ALIGN_CORS_ORIGINS": "https://a.example",
        "ALIGN_MAX_ACCOUNTS": "1000",
    }
    config = ServiceConfig.from_env(env, workers=8, database_url=None)
    assert config.api_keys == ("k1", "k2")
    assert (config.workers, config.max_accounts) == (8, 1000)
    assert config.database_url == "postgresql://u:p@db/align"
    assert config.cors_origins == ("https://a.example",)


def test_every_bad_value_is_named_by_its_variable_or_option() -> None:
    with pytest.raises(ServiceConfigError) as e:
        ServiceConfig.from_env(
            {"ALIGN_WORKERS": "two", "ALIGN_MAX_REQUEST_BYTES": "10"}, max_attempts=0
        )
    assert e.value.problems == [
        "ALIGN_WORKERS: input should be a valid integer, unable to parse string as an integer "
        "(got 'two')",
        "ALIGN_MAX_REQUEST_BYTES: input should be greater than or equal to 1024 (got '10')",
        "--max-attempts: input should be greater than or equal to 1 (got 0)",
    ]
    assert str(e.value).startswith("invalid service settings:\n- ALIGN_WORKERS: ")
