# syntax=docker/dockerfile:1
#
# The edge agent image: the production bundle (apps/edge-agent/dist/edge-agent.mjs, plain Node, no
# tsx) and the one native addon it loads from node_modules. Build from the repository root:
#   docker build -f deploy/docker/edge-agent.Dockerfile -t fleetkey/edge-agent:0.1.0 .
# The runtime stage's /opt/fleetkey/edge-agent is also what the systemd unit runs on a robot
# (build for the robot's architecture: docker buildx build --platform linux/arm64 …).
#
# Trust boundary: the image holds code only. The keystore (identity key, communication keys) lives
# in the data volume, made by `edge-agent provision`; app tokens appear in the config file only as
# SHA-256 digests.

ARG NODE_IMAGE=node:22-bookworm-slim
ARG NPM_VERSION=11.19.1

FROM ${NODE_IMAGE} AS build
ARG NPM_VERSION
# What the bundle loads at run time besides itself: the SQLite addon and its require-time
# dependencies (prebuild-install only runs at install time and is left out).
ARG RUNTIME_PACKAGES="better-sqlite3-multiple-ciphers bindings file-uri-to-path"
# The SQLite addon compiles from source: no prebuilt binary is downloaded, and the headers come
# from the Node image itself rather than from nodejs.org.
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
# Dev dependencies too: esbuild makes the bundle.
RUN npm ci \
 && npm run build -w @fleetkey/edge-agent
# The layout of apps/edge-agent, reduced: the bundle reads its version from ../package.json and
# resolves the addon from ../node_modules. Of the addon, only its loader and the compiled module,
# not its C sources or build objects.
RUN mkdir -p /out/dist /out/node_modules \
 && cp apps/edge-agent/dist/edge-agent.mjs /out/dist/edge-agent.mjs \
 && cp apps/edge-agent/package.json /out/package.json \
 && for pkg in ${RUNTIME_PACKAGES}; do cp -R "node_modules/${pkg}" /out/node_modules/; done \
 && cd /out/node_modules/better-sqlite3-multiple-ciphers \
 && rm -rf deps src binding.gyp \
 && find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} + \
 && find build/Release -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} +

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# A fixed uid: the data volume keeps its owner across image updates.
RUN groupadd --system --gid 10002 fleetkey-agent \
 && useradd --system --uid 10002 --gid 10002 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin fleetkey-agent \
 && install -d -o 10002 -g 10002 -m 0700 /var/lib/fleetkey-agent \
 && install -d -o 10002 -g 10002 -m 0750 /run/fleetkey
# Owned by root and read-only to the service user.
COPY --from=build /out /opt/fleetkey/edge-agent
USER 10002:10002
# The data directory is one level below the volume: provision builds the keystore in a staging
# directory next to it and renames it into place, so its parent must be writable by this user.
VOLUME ["/var/lib/fleetkey-agent", "/run/fleetkey"]
ENV FLEETKEY_DATA_DIR=/var/lib/fleetkey-agent/agent \
    FLEETKEY_AGENT_SOCKET=/run/fleetkey/agent.sock \
    FLEETKEY_PEER_LISTEN=0.0.0.0:7845
# Peer channels between robots (mutual TLS 1.3). The local API is the Unix socket in /run/fleetkey.
EXPOSE 7845
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/fleetkey/edge-agent/dist/edge-agent.mjs"]
CMD ["serve"]
