#!/bin/sh
# Refresh the locks in requirements/ from the ranges in pyproject.toml, with uv (in the dev extra):
#
#   sh scripts/lock.sh                          keep every pin that still fits the ranges (after editing them)
#   sh scripts/lock.sh --upgrade                the newest releases of everything
#   sh scripts/lock.sh --upgrade-package ruff   the newest of one package (and what it needs)
#
# dev.txt (runtime + `metrics` + `dev` extras: CI, the README's commands) is resolved first; runtime.txt
# (runtime + `metrics` + the build backend: the Dockerfile, the README's playground command) is constrained by
# it, so the image runs exactly the versions CI tested. Both are for CPython 3.11 on Linux, with the hashes of
# every file of each pinned release.
set -eu
cd "$(dirname "$0")/.."
lock() {
    uv pip compile --quiet --generate-hashes --python-version 3.11 --python-platform linux \
        --custom-compile-command "sh scripts/lock.sh" "$@"
}
lock pyproject.toml --extra dev --extra metrics --output-file requirements/dev.txt "$@"
lock pyproject.toml requirements/build.in --extra metrics --constraints requirements/dev.txt \
    --output-file requirements/runtime.txt "$@"
