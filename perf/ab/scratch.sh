#!/bin/bash
# scratch.sh <dir>: a copy of the built chain (the apps' and libs' dist/ and perf/lib) with its own
# node_modules/@edge-tunnel links, so ab.mjs can run it next to a rebuilt checkout (the "before" side).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
d=$1; rm -rf $d; mkdir -p $d/node_modules/@edge-tunnel $d/perf
for p in $root/node_modules/* $root/node_modules/.bin; do
  n=$(basename $p); [ "$n" = "@edge-tunnel" ] && continue; ln -s $p $d/node_modules/$n
done
for p in apps/server apps/agent libs/framing libs/dnat libs/pki libs/kube libs/capture; do
  mkdir -p $d/$p; cp -r $root/$p/dist $root/$p/package.json $d/$p/
  ln -s ../../$p $d/node_modules/@edge-tunnel/$(basename $p)
done
cp -r $root/perf/lib $root/perf/package.json $d/perf/
ln -s ../../perf $d/node_modules/@edge-tunnel/perf
