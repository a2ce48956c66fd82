# Parley: one image, every role. Build: docker build -t parley .
# Run against an external NATS: docker run -e PARLEY_NATS__URL=nats://nats:4222 parley start
# Without PARLEY_NATS__URL it starts the bundled nats-server itself (data under /app/.parley).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
# npm install from the lock file (npm ci rejects locks missing other platforms' optional packages: npm/cli#8320)
RUN npm install --no-audit --no-fund --ignore-scripts
COPY . .
RUN node scripts/build.mjs && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nats-server tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/package.json ./
COPY streams ./streams
COPY rules ./rules
COPY nats.conf ./
ENV NODE_ENV=production
EXPOSE 8080 4222
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=64", "bin/parley.js"]
CMD ["start"]
