# The smska Telegram bot. Build and run with `docker compose up -d --build` (README, "Deploy").
#
# Two stages: the first builds wheels of the bot and of the locked versions of its dependencies (requirements/
# runtime.txt, hash-checked; scripts/build-wheels.sh), the second only installs those wheels, offline
# (scripts/install-wheels.sh), into a slim Python and runs as a non-root user.
# tests/test_deploy.py runs the same two scripts in clean virtualenvs and checks this file's structure.
# Needs BuildKit (the default builder since Docker Engine 23) for `RUN --mount`. No `# syntax=` line on purpose:
# the built-in Dockerfile frontend handles it, and a syntax line would pull a frontend image from a registry.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/runtime.txt requirements/
COPY scripts/build-wheels.sh scripts/
COPY bot/ bot/
COPY locales/ locales/
RUN sh scripts/build-wheels.sh /wheels

FROM ${PYTHON_IMAGE} AS runtime
# No secret here: BOT_TOKEN, SMSKA_API_PASSWORD and the rest come from the environment (compose: .env).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    HEALTH_PORT=8081 \
    WEBHOOK_PORT=8080
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin bot \
    && install -d -o bot -g bot -m 0750 /data
# The wheels and the install script are mounted for this step only: no layer keeps them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=scripts/install-wheels.sh,target=/tmp/install-wheels.sh \
    sh /tmp/install-wheels.sh /wheels
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
# 8080: webhook mode (WEBHOOK_PORT); 8081: /healthz, /readyz, /metrics in polling mode (HEALTH_PORT).
EXPOSE 8080 8081
# Exit 0 when /healthz answers 200 on HEALTH_PORT or WEBHOOK_PORT (the process is up, the database usable).
# bot.probe imports only the standard library: well under a second, where importing aiogram takes 3-5 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.probe"]
# SIGTERM: stop taking updates, let sends in flight finish (up to 30 s), exit 0. A second one exits at once.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
