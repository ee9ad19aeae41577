# Shared by scripts/test.sh and scripts/demo.sh: make sure uv exists and the project's venv is in sync
# with uv.lock (all extras: server, async, postgres, plus the dev group).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
    export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --quiet --frozen --all-extras
