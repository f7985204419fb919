// A tiny HTTP server on 127.0.0.1 of an edge node, as a process in the node's namespace: what
// `kubectl port-forward` reaches through kubelet → agent. It prints its port, then serves.
import { createInterface } from 'node:readline';
import type { TestbedProcess } from '../netns/processes.js';
import type { PodHttpServer } from './handle.js';

/** The answer to every request (tests compare against it). */
export const podHttpAnswer = (method: string, url: string): string => `hello from the pod: ${method} ${url}\n`;

const SCRIPT = `const s = require('node:http').createServer((q, r) => r.end('hello from the pod: ' + q.method + ' ' + q.url + '\\n'));
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** Starts the server with `spawn` (a namespace's spawner); resolves with its port once it listens. */
export async function startPodHttp(spawn: (name: string, cmd: string, args: readonly string[]) => TestbedProcess): Promise<PodHttpServer> {
  const proc = spawn('pod-http', process.execPath, ['-e', SCRIPT]);
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: proc.child.stdout! }).once('line', (line) => resolve(Number(line)));
    void proc.exited.then((code) => reject(new Error(`kubectl testbed: the pod HTTP server exited with code ${code}`)));
  });
  return { port, close: async () => void (await proc.stop()) };
}
