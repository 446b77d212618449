# Runtime image: task-run as the entrypoint, logs under /logs.
# Built from this source tree (our distribution), not from the package index.
FROM python:3.13-alpine
RUN apk add --no-cache gpg gpg-agent openssh-client
COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src \
    && mkdir -p /app /logs && ln -s /logs /app/logs
WORKDIR /app
ENTRYPOINT ["task-run"]
