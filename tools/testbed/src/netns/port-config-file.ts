// The port config file the server reads with --config: ConfigMap keys as YAML, rewritten atomically.
import { rename, writeFile } from 'node:fs/promises';

export function portConfigText(data: Record<string, string>): string {
  const lines = Object.entries(data).map(([k, v]) => `${k}: '${v.replaceAll("'", "''")}'`);
  return `# same keys as the ConfigMap kube-system/edge-tunnel-server-cfg; edits apply live\n${lines.join('\n')}\n`;
}

/** Replaces the file in one rename, so that the server never reads half of it. */
export async function writePortConfig(path: string, data: Record<string, string>): Promise<void> {
  await writeFile(`${path}.tmp`, portConfigText(data));
  await rename(`${path}.tmp`, path);
}
