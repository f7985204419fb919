# edge-tunnel: edge-tunnel-server, edge-tunnel-agent and edge-tunnel-pki in one image.
# Build: see k8s/README.md "Container image". Base images are arguments, so that a mirror or a
# locally made base (k8s/image/make-bases.sh) works without a registry.
#   BUILD_BASE:   Debian bookworm with node + npm in /usr/local (the official node image's layout) and apt
#   RUNTIME_BASE: glibc, libstdc++, tzdata, netbase only (distroless cc); no shell, no package manager
ARG BUILD_BASE=docker.io/library/node:22.23.5-bookworm-slim
ARG RUNTIME_BASE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_BASE} AS build
WORKDIR /src
ENV NX_DAEMON=false NX_NO_CLOUD=true NX_SKIP_NX_CACHE=true CI=true
COPY . .
# The optional secret `npm-ca` is a CA bundle for a TLS-intercepting proxy (npm does not read the
# host's NODE_EXTRA_CA_CERTS). npm can exit 0 after a failed fetch ("Exit handler never called!"),
# so each install is checked by what it left behind.
RUN --mount=type=secret,id=npm-ca --mount=type=cache,target=/root/.npm \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi; \
    npm ci --no-audit --no-fund --ignore-scripts \
    && test -x node_modules/.bin/nx && test -x node_modules/.bin/tsc && test -f node_modules/esbuild/package.json \
    && npx nx run-many -t build --projects=@edge-tunnel/server,@edge-tunnel/agent,@edge-tunnel/pki-cli --output-style=static \
    && mkdir -p /opt/minify/node_modules && cp -a node_modules/esbuild node_modules/@esbuild /opt/minify/node_modules/ \
    && npm ci --omit=dev --no-audit --no-fund --ignore-scripts -w apps/server -w apps/agent -w tools/pki \
    && test -f node_modules/@kubernetes/client-node/package.json && test -f node_modules/pino/package.json \
    && test ! -e node_modules/typescript && test ! -e node_modules/nx && test ! -e node_modules/esbuild
# Only the runtime workspaces (the three apps and the libs nx built for them), with production
# dependencies; type declarations, source maps, docs, test directories and the Bare runtime's
# modules (bare-*: reached only under the `bare`/`react-native` import conditions of tar-fs and
# events-universal) removed, JavaScript whitespace-minified (k8s/image/minify.mjs:
# @kubernetes/client-node's generated code is 26 MB with comments and indentation, 8 MB without).
RUN set -e; mkdir -p /out/app; cp -a package.json node_modules /out/app/; \
    for w in apps/server apps/agent tools/pki libs/*; do \
      [ -d $w/dist ] || continue; mkdir -p /out/app/$w; cp -a $w/package.json $w/dist /out/app/$w/; if [ -d $w/node_modules ]; then cp -a $w/node_modules /out/app/$w/; fi; find /out/app/$w/dist -name '*.map' -delete; done; \
    find /out/app/node_modules -xtype l -delete; rm -rf /out/app/node_modules/bare-*; \
    find /out/app/node_modules -type d \( -name @types -o -name undici-types -o -name test -o -name tests -o -name __tests__ \) -prune -exec rm -rf {} +; \
    find /out/app/node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.ts' -o -name '*.markdown' \) -delete; \
    find /out/app -type d -empty -delete; \
    node k8s/image/minify.mjs /opt/minify/node_modules/esbuild /out/app
# node without its symbol table and debug info (125 MB -> 107 MB; the same code).
# iptables (nft backend: iptables-nft, as kube-proxy uses on current distributions) and conntrack
# for --capture=iptables, unpacked from Debian packages (no maintainer scripts, so the
# alternatives symlinks are made here).
RUN set -e; mkdir -p /out/root /tmp/debs; cd /tmp/debs; apt-get update -qq; \
    apt-get download -qq iptables conntrack libip4tc2 libip6tc2 libxtables12 libmnl0 \
      libnetfilter-conntrack3 libnfnetlink0 libnftnl11; \
    for d in *.deb; do dpkg-deb -x "$d" /out/root; done; \
    rm -rf /out/root/usr/share/doc /out/root/usr/share/man /out/root/usr/share/lintian /out/root/etc/ethertypes.d; \
    for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do \
      ln -sf xtables-nft-multi /out/root/usr/sbin/$n; done; \
    command -v strip >/dev/null || apt-get install -y -qq --no-install-recommends binutils >/dev/null; \
    rm -rf /var/lib/apt/lists/*; \
    strip --strip-all -o /out/node /usr/local/bin/node && /out/node -e 0

FROM ${RUNTIME_BASE}
ARG VERSION=0.1.0
ARG COMMIT=unknown
# buildah (1.28) reuses a cached LABEL layer when only ${COMMIT} changed: pass the two labels with
# --label too (k8s/README.md, Container image).
LABEL org.opencontainers.image.title="edge-tunnel" \
      org.opencontainers.image.description="edge-tunnel-server, edge-tunnel-agent and edge-tunnel-pki" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://example.invalid/edge-tunnel"
COPY --from=build /out/root/ /
COPY --from=build /out/node /usr/local/bin/node
COPY --from=build /out/app /app
ENV NODE_ENV=production PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Numeric, so that runAsNonRoot can check it. Nothing is written outside mounted volumes and /tmp.
USER 65532:65532
WORKDIR /app
# node is PID 1: both apps handle SIGTERM/SIGINT themselves (drain, then exit 0); they start no
# long-lived children (iptables-restore and conntrack are waited for), so no init is needed.
# The programs, relative to /app (as k8s/ runs them: command node, args <program> <flags>):
# apps/server/dist/main.js, apps/agent/dist/main.js, tools/pki/dist/main.js.
ENTRYPOINT ["node"]
CMD ["apps/server/dist/main.js", "--help"]
