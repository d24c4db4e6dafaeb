from pathlib import Path

import pytest

from sdk_campaigns.config import ConfigError, load_config, parse_config

GOOD = """
campaign: {results_bucket: sdk-results}
sdks:
  python: {image: python, test_command: [pytest]}
"""


def test_shipped_config_loads():
    config = load_config()
    assert {"python", "javascript"} <= set(config.sdk_names)


def test_typo_names_file_key_and_allowed_keys():
    text = GOOD.replace("image: python", "imagee: python")
    with pytest.raises(ConfigError) as err:
        parse_config(text, Path("campaign.yaml"))
    message = str(err.value)
    assert "campaign.yaml" in message
    assert "sdks.python.imagee" in message
    assert "allowed keys here: aws_conn_id, environment, image," in message


def test_bad_value_names_allowed_values():
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace("test_command", "vcpu: 3, test_command"), Path("c.yaml"))
    assert "sdks.python.vcpu" in str(err.value)
    assert "allowed: 0.25, 0.5, 1, 2, 4, 8, 16" in str(err.value)


def test_memory_must_fit_vcpu():
    with pytest.raises(ConfigError, match="memory_mib 9000 does not fit vcpu 0.5"):
        parse_config(GOOD.replace("test_command", "memory_mib: 9000, test_command"), Path("c.yaml"))


def test_policy_is_an_enum():
    with pytest.raises(ConfigError, match="validation.on_failure.*'warn' or 'fail'"):
        parse_config(GOOD + "validation: {on_failure: maybe}\n", Path("c.yaml"))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_not_yaml_is_named():
    with pytest.raises(ConfigError, match="c.yaml: not valid YAML"):
        parse_config("campaign: [unclosed", Path("c.yaml"))
