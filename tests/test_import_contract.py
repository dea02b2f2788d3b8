"""The import contract (pyproject.toml [tool.importlinter], run by scripts/test.sh) catches
a wrong import: the same contracts are run over a small stand-in of the five packages, first
as they should be, then with one wrong import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# Each layer imports the one below it, as the real packages do.
MODULES = {
    "engine/__init__.py": "",
    "engine/types.py": "",
    "storage/__init__.py": "",
    "storage/store.py": "import engine.types\n",
    "service/__init__.py": "",
    "service/api.py": "import storage.store\n",
    "bot/__init__.py": "",
    "bot/core.py": "import service.api\nimport engine.types\n",
    "bot/discord/__init__.py": "import bot.core\n",
    "bot/slack/__init__.py": "import bot.core\n",
    "web/__init__.py": "",
    "web/app.py": "import service.api\nimport storage.store\n",
}


def lint(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, text in {**MODULES, **extra}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def test_the_stand_in_keeps_the_contracts(tmp_path: Path) -> None:
    result = lint(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong", "contract"),
    [
        ("engine/types.py", "import storage.store\n", "Layers"),
        ("engine/types.py", "from service import api\n", "Layers"),
        ("storage/store.py", "import engine.types\nimport service.api\n", "Layers"),
        ("service/api.py", "import storage.store\nimport bot.core\n", "Layers"),
        ("bot/discord/__init__.py", "import bot.core\nimport bot.slack\n", "adapters"),
        # The web pages and the bots are two front doors: neither imports the other.
        ("web/app.py", "import service.api\nimport bot.core\n", "Layers"),
        ("bot/core.py", "import service.api\nimport web.app\n", "Layers"),
        ("service/api.py", "import storage.store\nimport web.app\n", "Layers"),
    ],
)
def test_a_wrong_import_breaks_the_contract(
    tmp_path: Path, module: str, wrong: str, contract: str
) -> None:
    # A function-level import counts too: the service's lazy imports are real dependencies.
    text = "def later():\n    " + wrong.replace("\n", "\n    ") if "engine/" in module else wrong
    result = lint(tmp_path, {module: text})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 broken" in result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and contract in broken[0], result.stdout
