"""Running a rendering tool (abcm2ps, rsvg-convert) on files in a temporary folder.

The tools read what Pictune wrote there and nothing else: a minimal environment, the folder
as the working directory and the home, a timeout, and a RenderError that names the tool.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine.errors import RenderError

TOOL_TIMEOUT = 20.0


def run_tool(cmd: list[str], cwd: Path, timeout: float = TOOL_TIMEOUT) -> None:
    try:
        result = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd)},
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise RenderError(detail=f"{Path(cmd[0]).name} failed: {exc}") from exc
    if result.returncode != 0:
        err = result.stderr.decode("utf-8", "replace")[-300:]
        raise RenderError(detail=f"{Path(cmd[0]).name} exited {result.returncode}: {err}")
