# The ptx services (gateway and single-window nodes) in one image; docker-compose.yml starts them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exchange ./exchange
COPY gateway ./gateway
COPY schemas ./schemas
RUN pip install --no-cache-dir -e . \
 && useradd --create-home --uid 1000 ptx \
 && mkdir /workspace && chown ptx:ptx /workspace
USER ptx
VOLUME ["/workspace"]
ENV PTX_WORKSPACE=/workspace
ENTRYPOINT ["ptx"]
CMD ["--help"]
