"""The carecenter command as operators run it: a real process, a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.config import Settings
from tests.conftest import ScriptedClassifier

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        input=stdin,
        timeout=120,
        check=False,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "id_number,name,email,role,faculty,program,status\n"


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    second = run(tmp_path, "migrate")
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_directory_import_all_or_nothing(tmp_path: Path) -> None:
    good = write(
        tmp_path / "good.csv",
        HEADER + "13521045,Budi,budi@students.itb.ac.id,student,STEI,IF,active\n"
        "198503122010121001,Dewi,dewi@itb.ac.id,lecturer,STEI,IF,active\n",
    )
    result = run(tmp_path, "directory", "import", str(good))
    assert result.returncode == 0, result.stderr
    assert "imported 2 entries: 2 new, 0 updated" in result.stdout
    again = run(tmp_path, "directory", "import", str(good))
    assert "0 new, 2 updated" in again.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id_number,name,role\n1,a,student\n", "line 1: missing column(s) email, faculty, program, status"),
        (
            HEADER + "13521045,Budi,b@itb.ac.id,student,STEI,IF,active\n,Ani,a@itb.ac.id,student,,,\n",
            "line 3: column id_number is empty",
        ),
        (HEADER + "13521045,Budi,b@itb.ac.id,alien,STEI,IF,active\n", "line 2: column role is 'alien'"),
        (HEADER + "1352A045,Budi,b@itb.ac.id,student,STEI,IF,active\n", "line 2: column id_number must be digits"),
        (HEADER + "13521045,Budi,,student,,,\n13521045,Budi,,student,,,\n", "line 3: column id_number repeats line 2"),
    ],
)
def test_directory_import_names_the_bad_line_and_imports_nothing(tmp_path: Path, content: str, message: str) -> None:
    bad = write(tmp_path / "bad.csv", content)
    result = run(tmp_path, "directory", "import", str(bad))
    assert result.returncode == 1
    assert message in result.stderr
    assert "nothing imported" in result.stderr


def test_directory_import_missing_file(tmp_path: Path) -> None:
    result = run(tmp_path, "directory", "import", str(tmp_path / "nope.csv"))
    assert result.returncode == 1
    assert "no such file" in result.stderr


def test_user_add_reads_password_from_stdin(tmp_path: Path) -> None:
    result = run(tmp_path, "user", "add", "--email", "Ani@Example.org", "--role", "agent", stdin="a-good-password\n")
    assert result.returncode == 0, result.stderr
    assert "created agent ani@example.org" in result.stdout
    assert "one-time password" not in result.stdout
    duplicate = run(tmp_path, "user", "add", "--email", "ani@example.org", "--role", "agent", stdin="another-pass\n")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr


def test_user_add_refuses_a_short_password_and_a_bad_role(tmp_path: Path) -> None:
    assert (
        "at least 8 characters"
        in run(tmp_path, "user", "add", "--email", "a@b.c", "--role", "agent", stdin="short\n").stderr
    )
    assert run(tmp_path, "user", "add", "--email", "a@b.c", "--role", "boss").returncode == 2


def test_token_create_prints_the_token_last(tmp_path: Path) -> None:
    result = run(tmp_path, "token", "create", "--name", "reporting", "--role", "supervisor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("cc_")


def test_unknown_command_and_bad_configuration_are_explained(tmp_path: Path) -> None:
    unknown = run(tmp_path, "frobnicate")
    assert unknown.returncode == 2
    assert "No such command" in unknown.stderr
    env_file = write(tmp_path / ".env", "TZ=Mars/Olympus\n")
    assert env_file.exists()
    bad = run(tmp_path, "migrate")
    assert bad.returncode == 2
    assert "TZ='Mars/Olympus'" in bad.stderr


async def test_token_list_and_revoke_and_the_api_refuses_the_revoked_token(
    tmp_path: Path, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    created = await asyncio.to_thread(run, tmp_path, "token", "create", "--name", "crm", "--expires-in", "30d")
    assert created.returncode == 0, created.stderr
    raw = created.stdout.strip().splitlines()[-1]
    kept = await asyncio.to_thread(run, tmp_path, "token", "create", "--name", "report")
    assert "expires never" in kept.stdout
    listing = await asyncio.to_thread(run, tmp_path, "token", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "NAME", "OWNER", "ROLE"]
    crm = next(line for line in lines if " crm " in line)
    assert crm.split()[-1] == "active"
    assert raw not in listing.stdout
    token_id = crm.split()[0]

    revoked = await asyncio.to_thread(run, tmp_path, "token", "revoke", token_id)
    assert revoked.stdout.strip() == f"revoked token {token_id} (crm)"
    again = await asyncio.to_thread(run, tmp_path, "token", "revoke", token_id)
    assert again.stdout.strip() == f"token {token_id} was already revoked"
    assert (await asyncio.to_thread(run, tmp_path, "token", "revoke", "999")).returncode == 1
    assert next(line for line in (await asyncio.to_thread(run, tmp_path, "token", "list")).stdout.splitlines()
                if " crm " in line).split()[-1] == "revoked"

    app = create_app(Settings(data_dir=tmp_path / "data"), classifier=ScriptedClassifier(), scheduler=False)
    client = await aiohttp_client(app)
    response = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {raw}"})
    assert (response.status, (await response.json())["reason"]) == (401, "revoked")


def test_token_create_refuses_an_expiry_it_cannot_read(tmp_path: Path) -> None:
    result = run(tmp_path, "token", "create", "--name", "crm", "--expires-in", "next tuesday")
    assert result.returncode == 2
    assert "--expires-in" in result.stderr
