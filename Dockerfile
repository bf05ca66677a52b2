# ai-fsm's application image: fsm-web, fsm-worker and fsmctl on a slim Debian 12.
#
#   docker build -t ai-fsm .                                  # on the Pi itself (arm64)
#   docker buildx build --platform linux/arm64,linux/amd64 -t ai-fsm .   # a workstation
#
# Everything comes from Debian 12's packages; nothing is downloaded at build
# time beyond them. BASE_IMAGE is the only thing a test may swap (ops/compose-drill
# builds from a locally bootstrapped Debian 12, as no registry is reachable there).
ARG BASE_IMAGE=debian:12-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libpistache-dev libpqxx-dev libpq-dev nlohmann-json3-dev libspdlog-dev libfmt-dev \
      libhowardhinnant-date-dev libsodium-dev libcli11-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY db db
COPY src src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFSM_BUILD_TESTS=OFF -DFSM_BUILD_BENCH=OFF \
 && cmake --build build -j "$(nproc)" \
 && strip build/src/fsm-web build/src/fsm-worker build/src/fsmctl

FROM ${BASE_IMAGE} AS runtime
# Only the shared libraries the three binaries link, CA certificates for an
# https notification URL, and curl for the healthcheck (libcurl is needed anyway).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpistache0 libpqxx-6.4 libpq5 libsodium23 libspdlog1.10 libfmt9 libcurl4 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fsm
COPY --from=build /src/build/src/fsm-web /src/build/src/fsm-worker /src/build/src/fsmctl /usr/local/bin/
COPY ops/docker/fsm-init /usr/local/bin/fsm-init
USER fsm
ENV PORT=3000
EXPOSE 3000
STOPSIGNAL SIGTERM
CMD ["fsm-web"]
