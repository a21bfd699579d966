"""Offline checks of the Docker files (no engine needed): what they name exists and agrees with the code."""

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.test.yml"]
# Options of the servers themselves, read by uvicorn rather than by ChatSphere's settings.
SERVER_OPTION_PREFIXES = ("UVICORN_",)
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)[^}]*\}")


def _compose(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (file, service, spec)
        for file in COMPOSE_FILES
        for service, spec in _compose(file)["services"].items()
    ]


def _documented_variables() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def _command(spec: dict[str, Any]) -> list[str]:
    command = spec.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _ids(services: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{file}:{service}" for file, service, _ in services]


# Built from this repository (the apps), as opposed to an upstream image (PostgreSQL, Redis).
BUILT = [(file, service, spec) for file, service, spec in _services() if "build" in spec]
# Every service but one-shot jobs (migrate), which finish instead of staying healthy.
LONG_RUNNING = [(file, service, spec) for file, service, spec in _services() if spec.get("restart") != "no"]


@pytest.mark.parametrize(("file", "service", "spec"), _services(), ids=_ids(_services()))
def test_every_service_is_built_here_or_names_an_image(file: str, service: str, spec: dict[str, Any]):
    assert "build" in spec or "image" in spec, f"{file}:{service} has neither build nor image"


@pytest.mark.parametrize(("file", "service", "spec"), BUILT, ids=_ids(BUILT))
def test_build_context_and_dockerfile_exist(file: str, service: str, spec: dict[str, Any]):
    context = REPO / spec["build"]["context"]
    dockerfile = context / spec["build"]["dockerfile"]
    assert context.is_dir()
    assert dockerfile.is_file(), f"{file}:{service} builds from missing {dockerfile}"


@pytest.mark.parametrize(("file", "service", "spec"), LONG_RUNNING, ids=_ids(LONG_RUNNING))
def test_every_long_running_service_has_a_healthcheck(file: str, service: str, spec: dict[str, Any]):
    assert spec.get("healthcheck", {}).get("test"), f"{file}:{service} has no healthcheck"


def test_django_is_served_only_by_serve_django_sh():
    """One server command everywhere: the image's CMD and every compose service that serves Django."""
    image = (REPO / "backend/Dockerfile").read_text()
    served = [
        " ".join(_command(spec))
        for _, _, spec in BUILT
        if "config.asgi" in " ".join(_command(spec)) or "serve_django" in " ".join(_command(spec))
    ]
    everything = image + "".join((REPO / file).read_text() for file in COMPOSE_FILES)

    assert 'CMD ["bash", "/app/serve_django.sh", "0.0.0.0:8000"]' in image
    assert "COPY --chown=chatsphere:chatsphere scripts/serve_django.sh /app/serve_django.sh" in image
    assert len(served) == len(COMPOSE_FILES), served  # one Django server per compose file
    assert all("bash /app/serve_django.sh 0.0.0.0:8000" in command for command in served), served
    assert "uvicorn config.asgi" not in everything.replace('"', "").replace(",", "")


@pytest.mark.parametrize("file", COMPOSE_FILES)
def test_every_interpolated_variable_is_documented_in_env_example(file: str):
    referenced = {match["name"] for match in INTERPOLATION.finditer((REPO / file).read_text())}

    assert referenced - _documented_variables() == set()


@pytest.mark.parametrize(("file", "service", "spec"), BUILT, ids=_ids(BUILT))
def test_app_environment_names_are_settings_the_apps_know(file: str, service: str, spec: dict[str, Any]):
    names = set(spec.get("environment", {}))
    unknown = {
        name for name in names if not name.startswith(SERVER_OPTION_PREFIXES)
    } - _documented_variables()
    assert unknown == set(), f"{file}:{service} sets variables no .env.example entry documents"


def test_worker_command_names_the_real_celery_app():
    for file in COMPOSE_FILES:
        command = _command(_compose(file)["services"]["worker"])
        assert command[:4] == ["celery", "-A", "config", "worker"], file
    probe = (
        "from celery.app.utils import find_app; import django; django.setup(); "
        "app = find_app('config'); app.loader.import_default_modules(); "
        "print(app.main, 'chatsphere.ingest_document' in app.tasks)"
    )
    # DEBUG spares the probe the production secrets; it only needs the app and its task registry.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true"}
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO / "backend",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["chatsphere", "True"]


@pytest.mark.parametrize(
    ("module_file", "attribute", "target"),
    [
        ("backend/config/asgi.py", "application", "config.asgi:application"),
        ("backend/chatsphere_agent/main.py", "app", "chatsphere_agent.main:app"),
    ],
)
def test_server_targets_exist(module_file: str, attribute: str, target: str):
    tree = ast.parse((REPO / module_file).read_text())
    assigned = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert attribute in assigned
    dockerfiles = (REPO / "backend/Dockerfile").read_text() + (
        REPO / "backend/chatsphere_agent/Dockerfile"
    ).read_text()
    compose = "".join((REPO / file).read_text() for file in COMPOSE_FILES)
    server_command = (REPO / "scripts/serve_django.sh").read_text()
    assert target in dockerfiles + compose + server_command


@pytest.mark.parametrize("dockerfile", ["backend/Dockerfile", "backend/chatsphere_agent/Dockerfile"])
def test_dockerfile_copies_existing_paths_pins_and_drops_root(dockerfile: str):
    text = (REPO / dockerfile).read_text()
    instructions = [line.split(maxsplit=1) for line in text.splitlines() if line and not line[0].isspace()]
    copies = [shlex.split(rest) for op, *rest_list in instructions if op == "COPY" for rest in rest_list]
    for arguments in copies:
        sources = [arg for arg in arguments if not arg.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), f"{dockerfile} copies missing {source}"
    assert text.splitlines()[
        next(i for i, line in enumerate(text.splitlines()) if line.startswith("FROM"))
    ] == ("FROM python:3.11-slim")
    assert "-c /tmp/requirements/constraints.txt" in text
    users = [rest for op, *rest in instructions if op == "USER"]
    assert users, f"{dockerfile} never switches user"
    assert users[-1] != ["root"], f"{dockerfile} must not run as root"


def test_agent_image_installs_cpu_torch_before_anything_else():
    text = (REPO / "backend/chatsphere_agent/Dockerfile").read_text()
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert (
        installs[0].strip()
        == "RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0"
    )
    assert "torch==2.13.0" in (REPO / "requirements/constraints.txt").read_text().splitlines()
