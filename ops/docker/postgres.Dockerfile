# PostgreSQL 15 for ai-fsm (the `db` and `backup` services of compose.pi.yml),
# from Debian 12's own packages, so one base image serves the whole stack.
# `docker exec -it ai-fsm-db psql --username=postgres --dbname=ai_fsm` works
# as written: psql is on PATH, and local socket connections are trusted
# inside the container (TCP from the other services needs POSTGRES_PASSWORD).
ARG BASE_IMAGE=debian:12-slim
FROM ${BASE_IMAGE}
# No cluster at install time: the entrypoint makes one in the volume.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/ai-fsm.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY ops/docker/db-entrypoint ops/docker/fsm-backup /usr/local/bin/
USER postgres
# No VOLUME: compose.pi.yml mounts the named volume db-data on PGDATA, and the
# `backup` service, which runs this image too, needs none (an image VOLUME
# would give every backup container an anonymous volume of its own).
EXPOSE 5432
# SIGINT is PostgreSQL's "fast" shutdown: clean, without waiting for clients.
STOPSIGNAL SIGINT
ENTRYPOINT ["db-entrypoint"]
CMD ["postgres"]
