#!/usr/bin/env bash
# The README's second command (and what CI runs): set up with the test extras and the
# servers the tests start themselves (Redis, PostgreSQL), Debian's chromium for the web
# pages' browser tests, check style and the import
# contract (bot -> service -> storage -> engine), run every test,
# the slow end-to-end ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "discord,slack,ml,scale,dev" redis-server postgresql chromium
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo  # the import contract: pyproject.toml [tool.importlinter]
.venv/bin/python -m pytest -q --timeout 900 "$@"
