#!/bin/sh
# Wheels of the bot and of everything it needs at run time (with the `metrics` extra), into one folder.
# The Dockerfile's build stage runs exactly this, and so does tests/test_deploy.py in a clean virtualenv:
# the image is built by the same commands the test proves.
#
#   usage: sh scripts/build-wheels.sh WHEEL_DIR [SOURCE_DIR]     (SOURCE_DIR defaults to the current one)
set -eu
out=${1:?usage: build-wheels.sh WHEEL_DIR [SOURCE_DIR]}
src=${2:-.}
python -m pip wheel --no-cache-dir --wheel-dir "$out" "$src[metrics]"
# The catalogs are compiled (locales/*/LC_MESSAGES/*.mo, committed) and must ship inside the wheel, where
# pyproject.toml puts them as bot/locales/: a bot without them speaks msgids.
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
