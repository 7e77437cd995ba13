#!/bin/sh
# Install the bot (with the `metrics` extra) from a folder of wheels only: no index, nothing compiled. The
# folder holds the locked versions only (scripts/build-wheels.sh), so those are what gets installed.
# The Dockerfile's runtime stage runs exactly this; so does tests/e2e/test_deploy.py in a clean virtualenv.
#
#   usage: sh scripts/install-wheels.sh WHEEL_DIR
set -eu
wheels=${1:?usage: install-wheels.sh WHEEL_DIR}
python -m pip install --no-cache-dir --no-index --find-links "$wheels" "smska-telegram-bot[metrics]"
