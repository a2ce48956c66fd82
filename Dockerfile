# Parley: one image, every role. Build: docker build -t parley .
# Run the demo (embedded nats-server, sample rules, simulated platform; API on port 8080):
#   docker run --rm -p 8080:8080 -v parley-data:/var/lib/parley parley
# Against an external NATS: docker run -e PARLEY_NATS__URL=nats://nats:4222 parley start --roles actors,connectors
# Default config: deploy/parley.container.yaml (demo tokens: replace them, see that file). Cluster: deploy/compose.yaml.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
# Exactly the locked versions (the lock is npm ci-clean); scripts off: the build below is the only one needed.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends nats-server tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# dist/parley.mjs bundles every dependency: no node_modules in the image.
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/package.json ./
COPY streams ./streams
COPY rules ./rules
COPY nats.conf ./
COPY deploy/parley.container.yaml ./parley.yaml
# Not root: the node image's unprivileged user owns only the data directory.
RUN mkdir -p /var/lib/parley && chown node:node /var/lib/parley
USER node
VOLUME ["/var/lib/parley"]
ENV NODE_ENV=production
EXPOSE 8080
# /healthz answers while the process runs; /readyz (NATS, streams, partitions) is for load balancers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PARLEY_HTTP__PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=64", "bin/parley.js"]
CMD ["start"]
