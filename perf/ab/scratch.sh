#!/bin/bash
# scratch.sh <dir>: a copy of the built chain (the apps' and libs' dist/ and perf/lib) with its own
# node_modules/@edge-tunnel links, so ab.mjs can run it next to a rebuilt checkout (the "before" side).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
d=$1; rm -rf $d; mkdir -p $d/node_modules/@edge-tunnel $d/perf
for p in $root/node_modules/* $root/node_modules/.bin; do
  n=$(basename $p); [ "$n" = "@edge-tunnel" ] && continue; ln -s $p $d/node_modules/$n
done
# every app and lib that has a build (a new lib is picked up without editing this list)
for p in $(cd $root && ls -d apps/*/dist libs/*/dist | sed 's|/dist$||'); do
  mkdir -p $d/$p; cp -r $root/$p/dist $root/$p/package.json $d/$p/
  ln -s ../../$p $d/node_modules/@edge-tunnel/$(basename $p)
done
cp -r $root/perf/lib $root/perf/package.json $d/perf/
ln -s ../../perf $d/node_modules/@edge-tunnel/perf
