# Manager image: the pool itself (`npm start`: database → messaging → pool → manager bot → web catalog and pool API),
# for deploying it as a service (docs/deploy.md: Railway, Docker Compose). Agents do not run in it: give it
# COMPUTE=docker (the agents' engine at DOCKER_HOST) or a Railway token; local agent processes need the OpenClaw
# gateway, which this image does not carry.
# Build: `npm run image:manager` (docker or podman; the base from BASE_IMAGE, else made offline: scripts/image.mjs),
# or `docker build --build-arg BASE_IMAGE=node:24-bookworm-slim -t convos-manager .` from the repository root.
# The build reads the npm registry; behind a TLS-inspecting proxy pass its CA bundle as the build secret `ca`.
ARG BASE_IMAGE=node:24-bookworm-slim
# Every package.json and lockfile in its place (npm ci needs each workspace's manifest): a layer that changes only
# when a manifest does, so the install stays cached across source edits.
FROM ${BASE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests && find . \( -name node_modules -prune \) -o \( -name package.json -o -name package-lock.json \) -type f -print \
  | xargs cp --parents -t /manifests

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=manifests /manifests/ ./
# The manager runs its TypeScript with tsx (a dev dependency). No install scripts: no OpenClaw gateway (agents run
# elsewhere), no second Node download (the npm `node` package's link is removed so the base's Node 24 runs).
RUN --mount=type=secret,id=ca NODE_EXTRA_CA_CERTS=/run/secrets/ca npm ci --include=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -f node_modules/.bin/node \
 && find node_modules -name 'bindings_node.*.node' ! -name 'bindings_node.linux-x64-gnu.node' -delete \
 && npm cache clean --force
COPY . .
RUN echo 'pool:x:10001:10001:convos pool:/data:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'pool:x:10001:' >> /etc/group \
 && mkdir -p /data && chown 10001:10001 /data && chmod 700 /data
USER 10001:10001
ENV NODE_ENV=production \
    HOME=/data \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["npm", "start"]
