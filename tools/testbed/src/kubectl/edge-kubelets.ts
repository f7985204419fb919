// The emulated kubelets of the netns testbed are processes in the edge namespaces: a log line is
// appended to the container's log file (the emulator's followers pick it up within 50 ms), and open
// followers are read from the read-only port's /metrics, from inside the edge namespace.
import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EdgePlan } from '../netns/options.js';
import type { Testbed } from '../netns/testbed.js';
import { unknownNode } from './handle.js';
import { DEMO_POD } from './seed.js';

export interface EdgeKubelets {
  appendLog(nodeName: string, container: string, line: string): Promise<void>;
  activeFollowers(nodeName: string): Promise<number>;
}

/** Reads each kubelet's log dir from its start line; call right after startTestbed (the log is a ring). */
export function edgeKubelets(tb: Testbed): EdgeKubelets {
  const logDirs = new Map(tb.edges.map((edge) => [edge.name, logDirOf(tb.logs(), edge.name)]));
  const edge = (name: string): EdgePlan => tb.edges.find((e) => e.name === name) ?? unknownNode(name);
  return {
    async appendLog(name, container, line) {
      const dir = logDirs.get(name) ?? unknownNode(name);
      const podDir = (await readdir(dir)).find((d) => d.startsWith(`${DEMO_POD.namespace}_${DEMO_POD.name}_`));
      if (!podDir) throw new Error(`kubectl testbed: no log directory of ${DEMO_POD.name} in ${dir}`);
      // The CRI log format the emulator writes and reads (`<RFC 3339 time> stdout F <content>`).
      await appendFile(join(dir, podDir, container, '0.log'), `${new Date().toISOString()} stdout F ${line}\n`);
    },
    async activeFollowers(name) {
      const { ns, ip } = edge(name);
      const res = await tb.exec(ns, 'curl', ['-sf', '-m', '2', `http://${ip}:10255/metrics`], 5_000);
      const m = /^kubelet_emulator_log_followers (\d+)$/m.exec(res.stdout);
      if (!m) throw new Error(`kubectl testbed: no kubelet_emulator_log_followers from ${ip}:10255 (curl exit ${res.code}: ${res.stderr.trim()})`);
      return Number(m[1]);
    },
  };
}

function logDirOf(lines: readonly string[], nodeName: string): string {
  const re = new RegExp(`\\[kubelet-${nodeName}\\] .*kubelet emulator listening .*\\blogDir=(\\S+)`);
  for (const line of lines) {
    const m = re.exec(line);
    if (m) return m[1]!;
  }
  throw new Error(`kubectl testbed: the kubelet of ${nodeName} did not print its log directory`);
}
