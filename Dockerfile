# One image for the code server, webserver and daemon (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/dagster/home
WORKDIR /opt/usage_archive

COPY pyproject.toml README.md ./
COPY usage_archive ./usage_archive
RUN pip install --no-cache-dir '.[webserver]'

COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml
COPY docker/workspace.yaml ./workspace.yaml
COPY repositories.example.yml ./repositories.example.yml

EXPOSE 3000 4000
