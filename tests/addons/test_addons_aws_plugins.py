"""otf-addons-aws lookups (SSM, Secrets Manager), SSM caching and Lambda."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from opentaskpy import exceptions
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.schemas import validate_execution_json
from opentaskpy.taskhandlers.execution import Execution
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import write_json

from .conftest import unique

LAMBDA = {"name": "opentaskpy.addons.aws.remotehandlers.lambda.LambdaExecution"}


def _variables(cfg_dir: Path, text: str) -> None:
    (cfg_dir / "variables.json.j2").write_text(text)


def test_ssm_lookup_in_variables_file(aws, cfg_dir: Path) -> None:
    name = "/otf/" + unique("param")
    aws.client("ssm").put_parameter(
        Name=name, Value='multi\nline "quoted"', Type="SecureString"
    )
    _variables(
        cfg_dir, f"{{\"FROM_SSM\": \"{{{{ lookup('aws.ssm', name='{name}') }}}}\"}}"
    )
    variables = ConfigLoader(str(cfg_dir)).get_global_variables()
    # The plugin escapes newlines itself and then JSON-escapes the result, so a
    # newline arrives as the two characters backslash-n (as with the reference);
    # quotes survive intact, which shows the framework does not escape again.
    assert variables["FROM_SSM"] == 'multi\\nline "quoted"'


def test_ssm_lookup_reads_region_from_globals(aws, cfg_dir: Path) -> None:
    # moto keeps SSM per region: the value exists only in eu-west-2, the
    # environment says us-east-1, so finding it proves `globals` was passed.
    name = "/otf/" + unique("regional")
    import boto3

    boto3.client(
        "ssm", endpoint_url=aws.endpoint, region_name="eu-west-2"
    ).put_parameter(Name=name, Value="from-eu-west-2", Type="String")
    _variables(
        cfg_dir,
        '{"AWS_REGION": "eu-west-2", '
        f"\"V\": \"{{{{ lookup('aws.ssm', name='{name}') }}}}\"}}",
    )
    assert ConfigLoader(str(cfg_dir)).get_global_variables()["V"] == "from-eu-west-2"


def test_ssm_lookup_failure_modes(aws, cfg_dir: Path, monkeypatch, caplog) -> None:
    _variables(cfg_dir, "{\"V\": \"{{ lookup('aws.ssm', name='/otf/absent') }}\"}")
    with caplog.at_level(logging.WARNING):
        assert ConfigLoader(str(cfg_dir)).get_global_variables()["V"] == "LOOKUP_FAILED"
    assert "lookup failed but continuing anyway" in caplog.text
    monkeypatch.setenv("OTF_AWS_SECRETS_LOOKUP_FAILED_IS_ERROR", "1")
    with pytest.raises(ClientError):
        ConfigLoader(str(cfg_dir))
    _variables(cfg_dir, "{\"V\": \"{{ lookup('aws.ssm', nome='typo') }}\"}")
    with pytest.raises(exceptions.LookupPluginError, match="Missing kwarg: 'name'"):
        ConfigLoader(str(cfg_dir))


def test_secrets_manager_lookup_with_jsonpath(aws, cfg_dir: Path) -> None:
    name = unique("secret")
    aws.client("secretsmanager").create_secret(
        Name=name, SecretString=json.dumps({"db": {"password": "s3cr3t"}, "n": 7})
    )
    _variables(
        cfg_dir,
        f"{{\"WHOLE\": \"{{{{ lookup('aws.secrets_manager', name='{name}') }}}}\","
        f" \"PW\": \"{{{{ lookup('aws.secrets_manager', name='{name}', value='$.db.password') }}}}\"}}",
    )
    variables = ConfigLoader(str(cfg_dir)).get_global_variables()
    assert variables["PW"] == "s3cr3t"
    assert json.loads(variables["WHOLE"]) == {"db": {"password": "s3cr3t"}, "n": 7}


def test_lookups_through_cli(aws, task_run, cfg_dir: Path, tmp_path: Path) -> None:
    bucket = aws.bucket()
    name = "/otf/" + unique("bucket")
    aws.client("ssm").put_parameter(Name=name, Value=bucket, Type="String")
    _variables(
        cfg_dir,
        f"{{\"TARGET_BUCKET\": \"{{{{ lookup('aws.ssm', name='{name}') }}}}\"}}",
    )
    src = tmp_path / "lsrc"
    src.mkdir()
    (src / "x.txt").write_text("looked up")
    write_json(
        cfg_dir / "lookup-push.json",
        {
            "type": "transfer",
            "source": {
                "directory": str(src),
                "fileRegex": "x",
                "protocol": {"name": "local"},
            },
            "destination": [
                {
                    "bucket": "{{ TARGET_BUCKET }}",
                    "directory": "in",
                    "protocol": {
                        "name": "opentaskpy.addons.aws.remotehandlers.s3.S3Transfer"
                    },
                }
            ],
        },
    )
    result = task_run("-t", "lookup-push", "-c", cfg_dir, env=aws.env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert aws.read(bucket, "in/x.txt") == b"looked up"


def _dummy_caching_definition(param: str) -> dict:
    return {
        "type": "transfer",
        "source": {
            "accessToken": "0",
            "cacheableVariables": [
                {
                    "variableName": "accessToken",
                    "cachingPlugin": "aws.vc_ssm",
                    "cacheArgs": {"name": param},
                }
            ],
            "protocol": {"name": "dummy"},
        },
    }


def test_cache_variable_to_ssm_api(aws) -> None:
    param = "/otf/" + unique("cached")
    assert Transfer(None, "cache-ssm", _dummy_caching_definition(param)).run() is True
    value = aws.client("ssm").get_parameter(Name=param, WithDecryption=True)
    assert value["Parameter"]["Value"].isdigit()


def test_cache_variable_to_ssm_cli(aws, task_run, cfg_dir: Path) -> None:
    param = "/otf/" + unique("cachedcli")
    write_json(cfg_dir / "cache-cli.json", _dummy_caching_definition(param))
    result = task_run("-t", "cache-cli", "-c", cfg_dir, env=aws.env, timeout=120)
    assert result.returncode == 0, result.stderr
    value = aws.client("ssm").get_parameter(Name=param, WithDecryption=True)
    assert value["Parameter"]["Value"].isdigit()


def _moto_lambda_docker(aws, use_docker: bool) -> None:
    reply = requests.post(
        f"{aws.endpoint}/moto-api/config",
        json={"lambda": {"use_docker": use_docker}},
        timeout=10,
    )
    assert reply.status_code in (200, 201)


@pytest.fixture
def lambda_arn(aws) -> Iterator[str]:
    """A Lambda function in moto, invoked without docker (moto's simple mode).

    moto runs Lambda code inside docker, which is not available here; with
    ``lambda.use_docker`` off it accepts the invocation and echoes the payload
    instead of running the function's code.
    """
    reply = requests.post(
        f"{aws.endpoint}/moto-api/config",
        json={"lambda": {"use_docker": False}},
        timeout=10,
    )
    assert reply.status_code in (200, 201)
    role = aws.client("iam").create_role(
        RoleName=unique("role"), AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(
            "handler.py", "def handler(event, context):\n    return event\n"
        )
    yield str(
        aws.client("lambda").create_function(
            FunctionName=unique("fn"),
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": buf.getvalue()},
        )["FunctionArn"]
    )
    _moto_lambda_docker(aws, True)


def test_lambda_execution_api(aws, lambda_arn: str, caplog) -> None:
    caplog.set_level(logging.INFO)
    for invocation in ("Event", "RequestResponse"):
        definition = {
            "type": "execution",
            "functionArn": lambda_arn,
            "invocationType": invocation,
            "payload": {"job": invocation},
            "protocol": dict(LAMBDA),
        }
        assert validate_execution_json(definition)
        assert Execution(None, f"lambda-{invocation}", definition).run() is True
    assert '"job": "RequestResponse"' in caplog.text


def test_lambda_missing_function_returns_false(aws) -> None:
    # In moto's docker-less mode every invocation succeeds, even of a missing
    # function; the default (docker) mode answers ResourceNotFoundException.
    _moto_lambda_docker(aws, True)
    definition = {
        "type": "execution",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:nope",
        "protocol": dict(LAMBDA),
    }
    assert Execution(None, "lambda-missing", definition).run() is False


def test_lambda_without_function_arn_raises_invalid_config(aws) -> None:
    definition = {"type": "execution", "protocol": dict(LAMBDA)}
    assert validate_execution_json(dict(definition)) is False
    with pytest.raises(exceptions.InvalidConfigError):
        Execution(None, "lambda-noarn", definition).run()


def test_lambda_through_cli(aws, lambda_arn: str, task_run, cfg_dir: Path) -> None:
    write_json(
        cfg_dir / "lambda-cli.json",
        {
            "type": "execution",
            "functionArn": lambda_arn,
            "invocationType": "RequestResponse",
            "protocol": LAMBDA,
        },
    )
    result = task_run("-t", "lambda-cli", "-c", cfg_dir, env=aws.env, timeout=120)
    assert result.returncode == 0, result.stderr
    log = "".join(p.read_text() for p in Path("logs/lambda-cli").glob("*_E.log"))
    assert "Got status code: 200" in log
