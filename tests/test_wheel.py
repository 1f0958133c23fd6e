"""Plaudit works from a built wheel, away from the checkout, and its API docs need no network.

The wheel is built from this checkout and installed (without dependencies) into a fresh virtual environment
in a temporary folder; the dependencies come from the test environment's site-packages through a ``.pth``
line, so nothing is downloaded. The checkout itself is never on that environment's path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plaudit_collector.server import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtual environment with the wheel installed; its ``bin`` folder."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip"]
    step(*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(work))
    (wheel,) = work.glob("plaudit-*.whl")
    venv = work / "venv"
    step(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    step(*pip, "--python", str(python), "install", "--no-deps", "--quiet", str(wheel))
    site = step(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    # Dependencies from this environment; its own editable plaudit (a .pth there) is not processed this way.
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield venv / "bin"


def step(*command: str) -> str:
    """Run one step of the set-up; its output, or a failure that shows what it said."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_", "PYTHON"))}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_the_installed_package_comes_from_the_wheel(wheel_env: Path) -> None:
    where = subprocess.run(
        [str(wheel_env / "python"), "-c", "import plaudit, plaudit_collector; print(plaudit_collector.__file__)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=wheel_env.parent,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(wheel_env.parent)) and str(ROOT) not in where


def test_plaudit_demo_runs_from_the_wheel(wheel_env: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(wheel_env / "plaudit"), "demo", "--db", "demo.db", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**clean_env(), "QUICKSTART_REQUESTS_PER_VARIANT": "20"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Leaderboard: thumbs by variant" in result.stdout and "Workspace:" in result.stdout
    assert (tmp_path / "demo.db").exists()


def test_the_api_docs_load_every_asset_from_the_collector(wheel_env: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(wheel_env / "plaudit"), "serve", "--port", str(port), "--db", str(tmp_path / "docs.db")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the collector did not start"
                time.sleep(0.2)
        for page in ("/docs", "/redoc"):
            html = httpx.get(base + page, timeout=10)
            assert html.status_code == 200
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
            assets += re.findall(r"""url: ?["']([^"']+)["']""", html.text)  # the OpenAPI document
            assert assets and all(a.startswith("/") for a in assets), f"{page} loads from elsewhere: {assets}"
            assert "https://" not in html.text and "http://" not in html.text
            for asset in assets:
                fetched = httpx.get(base + asset, timeout=10)
                assert fetched.status_code == 200 and fetched.content, asset
    finally:
        proc.terminate()
        proc.wait(timeout=30)
