# api: Python service, built with examples/fleet as the context.
FROM slipway.local/base/python:3-bookworm AS runtime
WORKDIR /app
COPY api/ /app/
USER 65532:65532
ENTRYPOINT ["python3", "/app/app.py"]
