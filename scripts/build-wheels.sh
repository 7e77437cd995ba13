#!/bin/sh
# Wheels of the bot and of exactly the locked versions of everything it needs at run time (requirements/
# runtime.txt: the `metrics` extra and the build backend included), into one folder. The Dockerfile's build
# stage runs exactly this, and so does tests/e2e/test_deploy.py in a clean virtualenv: the image is built by the
# same commands the test proves.
#
#   usage: sh scripts/build-wheels.sh WHEEL_DIR [SOURCE_DIR]     (SOURCE_DIR defaults to the current one)
set -eu
out=${1:?usage: build-wheels.sh WHEEL_DIR [SOURCE_DIR]}
src=${2:-.}
lock=$src/requirements/runtime.txt
# Every locked release, each file checked against the lock's hashes. Wheels only: nothing is built by a
# backend the lock did not choose.
python -m pip wheel --no-cache-dir --require-hashes --only-binary=:all: --wheel-dir "$out" -r "$lock"
# The locked setuptools and wheel, from the wheels just checked, build the bot's own wheel.
# shellcheck disable=SC2046  # one word per pin
python -m pip install --no-cache-dir --no-index --find-links "$out" $(grep -E '^(setuptools|wheel)==' "$lock" | cut -d' ' -f1)
python -m pip wheel --no-cache-dir --no-index --no-deps --no-build-isolation --wheel-dir "$out" "$src"
# The catalogs (locales/*/LC_MESSAGES/*.mo, committed) must ship inside the wheel, where pyproject.toml puts
# them as bot/locales/: a bot without them speaks msgids.
python - "$out" <<'PY'
import sys, zipfile, pathlib
wheel = next(pathlib.Path(sys.argv[1]).glob("smska_telegram_bot-*.whl"))
names = zipfile.ZipFile(wheel).namelist()
missing = [f"bot/locales/{lang}/LC_MESSAGES/messages.mo" for lang in ("ru", "en")]
missing = [name for name in missing if name not in names]
if missing:
    sys.exit(f"{wheel.name} lacks {', '.join(missing)}")
print(f"built {wheel.name} with its catalogs")
PY
