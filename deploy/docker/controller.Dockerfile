# syntax=docker/dockerfile:1
#
# The fleet controller image. Build from the repository root:
#   docker build -f deploy/docker/controller.Dockerfile -t fleetkey/fleet-controller:0.1.0 .
#
# Trust boundary: the image holds code only. No key, token, passphrase or data directory is baked
# in: the data directory is a volume (made once with `init`), KMS credentials come from the
# platform (workload identity) or from the environment at run time.
#
# The controller runs its TypeScript sources through tsx at run time (bin/fleet-controller.mjs;
# there is no controller bundle yet), so the runtime stage carries the workspace sources and the
# production node_modules, tsx included.

ARG NODE_IMAGE=node:22-bookworm-slim
ARG NPM_VERSION=11.19.1

FROM ${NODE_IMAGE} AS build
ARG NPM_VERSION
# better-sqlite3-multiple-ciphers compiles from source: no prebuilt binary is downloaded, and the
# headers come from the Node image itself rather than from nodejs.org.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g "npm@${NPM_VERSION}"
WORKDIR /src
COPY . .
# Production dependencies of every workspace (the lock file decides every version); the
# vendor SDKs come with their adapters, and only the configured one is ever loaded.
RUN npm ci --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# A fixed uid so volume ownership and the pod securityContext (runAsUser) agree.
RUN groupadd --system --gid 10001 fleetkey \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin fleetkey \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/fleetkey
WORKDIR /opt/fleetkey
# Owned by root and read-only to the service user: the controller cannot rewrite its own code.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
# The workspace libraries the controller imports through node_modules/@fleetkey (symlinks); the other
# apps and the examples are left behind (their links dangle, and nothing loads them).
COPY --from=build /src/libs ./libs
COPY --from=build /src/apps/fleet-controller ./apps/fleet-controller
USER 10001:10001
# The data directory is one level below the volume: init builds it in a staging directory next to
# it and renames it into place, and refuses a non-empty target (a fresh volume may hold lost+found).
VOLUME ["/var/lib/fleetkey"]
ENV FLEETKEY_DATA_DIR=/var/lib/fleetkey/controller \
    FLEETKEY_LISTEN=0.0.0.0:7443 \
    FLEETKEY_MQTT_LISTEN=0.0.0.0:8883 \
    FLEETKEY_HTTP_LISTEN=0.0.0.0:9090
# gRPC (TLS / mutual TLS), MQTT over TLS, plain HTTP for /healthz /readyz /metrics (keep it
# internal: publish it on 127.0.0.1 only, never to the world).
EXPOSE 7443 8883 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "apps/fleet-controller/bin/fleet-controller.mjs"]
CMD ["serve"]
