# syntax=docker/dockerfile:1
#
# palisade container image: the compiled gateway (dist/) on Node 20, production
# dependencies only, running as a non-root user on a read-only root filesystem.
#
#   docker build -t palisade .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 \
#     -v $PWD/conf:/etc/palisade:ro -v $PWD/keys:/etc/palisade-keys:ro \
#     -v palisade-data:/var/lib/palisade palisade
#
# The config is read from /etc/palisade/palisade.yaml: mount the directory (a ConfigMap
# in Kubernetes), not the file, so that an update reaches the gateway's reload watcher. Anything the gateway writes (the audit log) goes under /var/lib/palisade,
# a volume. Keys and API-key files go under /etc/palisade-keys (a Secret). Shipped
# detector packages are in /app/models. docs/deployment.md has the details.

# --- build: compile TypeScript ------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
# onnxruntime-node ships its CPU binaries in the package; its install script would
# otherwise try to download GPU ones.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: dist + production dependencies ----------------------------------------
# bookworm (glibc), not alpine: onnxruntime-node's prebuilt binaries need glibc.
FROM node:20-bookworm-slim AS runtime
# ORT_DISABLE_TELEMETRY: onnxruntime-node (1.30, Linux) otherwise stores an event for every
# session it creates in ~/.cache/Microsoft/DeveloperTools/.onnxruntime, for upload to
# mobile.events.data.microsoft.com; on the read-only root it also logs a warning at start,
# and it writes /tmp/.ses. A gateway has no business phoning home.
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    ORT_DISABLE_TELEMETRY=1 \
    PALISADE_HEALTH_URL=http://127.0.0.1:9090/healthz
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node ships its binaries for every platform (darwin, win32, linux; x64,
# arm64): about 245 MB of the 290 MB package. Keep only this image's platform/arch, in
# the same layer so the others never reach the image, and fail the build if the binding
# is not where the package loads it from.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && rm -rf /root/.npm /tmp/* \
 && ort=node_modules/onnxruntime-node/bin && keep="$(node -p 'process.platform + "/" + process.arch')" \
 && find "$ort" -mindepth 3 -maxdepth 3 -type d ! -path "*/$keep" -exec rm -rf {} + \
 && find "$ort" -type d -empty -delete \
 && test -f "$(echo "$ort"/napi-v*/"$keep"/onnxruntime_binding.node)"
COPY --from=build /app/dist ./dist
COPY bin ./bin
# Signed detector packages and the key that verifies them; the demo model and the demo
# configs (config/default.yaml runs the demo upstreams in-process).
COPY models ./models
COPY config ./config
RUN mkdir -p /etc/palisade /etc/palisade-keys /var/lib/palisade && chown 1000:1000 /var/lib/palisade
# The image's `node` user (uid 1000), numeric so that runAsNonRoot can check it.
USER 1000:1000
VOLUME ["/var/lib/palisade"]
EXPOSE 8080 9090
# The admin listener's /healthz (answers while the process serves; /readyz also checks
# the upstreams). Set PALISADE_HEALTH_URL when the admin listener is elsewhere.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.PALISADE_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/palisade.js"]
CMD ["start", "-c", "/etc/palisade/palisade.yaml"]
