# cxbot: `docker build -t cxbot .` then
#   docker run -p 8080:8080 -v cxbot-data:/data -e CXBOT_API_KEYS=... cxbot
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY notifications notifications
COPY storage storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin cxbot \
 && mkdir -p /data && chown cxbot /data
COPY --from=build /install /usr/local
# Inside the container the server listens on every interface; the SQLite file lives in the volume.
ENV CXBOT_HTTP_HOST=0.0.0.0 \
    CXBOT_HTTP_PORT=8080 \
    CXBOT_DATABASE_URL=sqlite+aiosqlite:////data/cxbot.db \
    CXBOT_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
WORKDIR /data
USER cxbot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
CMD ["cxbot", "serve"]
