FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# Pango for the PDF reports (WeasyPrint), Graphviz for the dependency graph.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 graphviz \
    fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .
COPY . .
RUN DRDRILL_DATA_DIR=/tmp/build DRDRILL_SECRET_KEY=build-only python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/build
# Workers run runbook steps near production: never as root. The example policy ships with the image;
# an operator mounts their own at /etc/drdrill/worker-policy.yaml (docs/security.md).
RUN useradd --create-home --uid 10001 drdrill && mkdir -p /data /etc/drdrill \
    && cp deploy/worker-policy.example.yaml /etc/drdrill/worker-policy.example.yaml && chown drdrill /data
USER drdrill
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
