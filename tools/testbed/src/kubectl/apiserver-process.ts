// The fake API server as its own process in the cloud namespace (tools/fake-apiserver's CLI): seeded
// with the edge nodes (InternalIP = edge IP) and the demo pod; its kubelet proxy dials `edgeIP:10250`
// directly with kube-apiserver's kubelet-client certificate, so iptables DNAT takes the connection to
// the server's HTTPS listener, which checks that certificate.
import type { RecordedRequest } from '@edge-tunnel/fake-apiserver';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { appScript } from '../netns/apps.js';
import type { TestbedProcess } from '../netns/processes.js';
import type { Testbed } from '../netns/testbed.js';
import { seedDocument, type SeedNode } from './seed.js';

/** kube-apiserver's port; free in the cloud namespace, which has nothing else on it. */
export const API_SERVER_PORT = 6443;

export interface ApiServerProcess {
  proc: TestbedProcess;
  url: string;
  kubeconfig: string;
  /** the requests received so far (read from the server's --request-log) */
  requests(): RecordedRequest[];
}

/** Starts the API server in the cloud namespace; resolves once it listens and has written `<dir>/kubeconfig`. */
export async function startApiServerProcess(tb: Testbed, dir: string, nodes: readonly SeedNode[]): Promise<ApiServerProcess> {
  const file = (name: string): string => join(dir, name);
  await writeFile(file('seed.json'), JSON.stringify(seedDocument(nodes)));
  const proc = tb.spawn(tb.cloudNs, 'apiserver', process.execPath, [
    appScript('@edge-tunnel/fake-apiserver'),
    '--listen',
    `127.0.0.1:${API_SERVER_PORT}`,
    '--seed',
    file('seed.json'),
    '--kubeconfig',
    file('kubeconfig'),
    '--request-log',
    file('requests.jsonl'),
    // kube-apiserver's kubelet-client identity: the testbed's `caller` certificate (CN kube-apiserver-kubelet-client)
    '--kubelet-client-cert',
    tb.certs.path('caller', 'crt'),
    '--kubelet-client-key',
    tb.certs.path('caller', 'key'),
    '--kubelet-ca',
    tb.certs.path('ca', 'crt'),
  ]);
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.child.stdout! }).on('line', (line) => {
      const url = /^\{"msg":"fake apiserver listening","url":"([^"]+)"/.exec(line)?.[1];
      if (url) resolve(url);
    });
    void proc.exited.then((code) =>
      reject(
        new Error(
          `kubectl testbed: the fake API server exited with code ${code}:\n${tb
            .logs()
            .filter((l) => l.includes('[apiserver]'))
            .slice(-10)
            .join('\n')}`,
        ),
      ),
    );
  });
  return { proc, url, kubeconfig: file('kubeconfig'), requests: () => readRequests(file('requests.jsonl')) };
}

function readRequests(path: string): RecordedRequest[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as RecordedRequest);
}
