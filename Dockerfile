# Lapor: one image for every role (migrate, api, worker); the command picks the role.

# Build a wheel first so the runtime image carries neither build tools nor the source tree.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY api ./api
COPY schema ./schema
COPY domain ./domain
COPY models ./models
COPY workers ./workers
COPY lapor ./lapor
COPY core ./core
# Every dependency at the version constraints.txt pins, as `make` installs them.
RUN pip wheel --wheel-dir /wheels -c constraints.txt .
# GraphiQL's files from the npm registry, so the console needs no CDN at run time.
RUN apt-get update && apt-get install -y --no-install-recommends npm \
    && pip install /wheels/*.whl && lapor console-assets --dir /console-assets

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LAPOR_HOST=0.0.0.0 \
    LAPOR_PORT=8000 \
    LAPOR_CONSOLE_ASSETS_DIR=/app/console-assets
COPY --from=build /wheels /wheels
COPY --from=build /console-assets /app/console-assets
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /app --create-home lapor \
    && install -d -o lapor -g lapor -m 0700 /app/var /app/var/files
# /app/var/files exists, owned by lapor, before a volume is mounted there: a new named volume
# takes its owner from the image, else it would be root's and unwritable.
WORKDIR /app
USER lapor
EXPOSE 8000
CMD ["lapor", "api"]
