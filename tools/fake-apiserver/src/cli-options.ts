// The command line of `fake-apiserver` (src/main.ts), parsed into options; pure, no I/O.
import { parseArgs } from 'node:util';
import { ErrorCode, FakeApiServerError } from './errors.js';

export const USAGE = `usage: fake-apiserver [--listen HOST:PORT] [--seed FILE] [--kubeconfig FILE] [--request-log FILE]
  [--kubelet-client-cert FILE --kubelet-client-key FILE [--kubelet-ca FILE]] [--auth FILE]

  --listen HOST:PORT         where the API server listens (plain HTTP); default 127.0.0.1:0 (any free port)
  --seed FILE                JSON {"<resource>": [objects]}, e.g. {"nodes": [...], "pods": [...]}, put at start
  --kubeconfig FILE          write a kubeconfig for the listening URL (mode 0600)
  --request-log FILE         append one JSON line {method, path, query} per request received
  --kubelet-client-cert FILE serve pods/log|exec|attach|portforward by dialling nodeIP:kubeletPort directly
  --kubelet-client-key FILE    over TCP + TLS with this client certificate, as kube-apiserver does
  --kubelet-ca FILE          verify kubelet serving certificates (default: not verified)
  --auth FILE                JSON {"tokens": {"<token>": {"username": …, "groups": […]}}, "rules": [{"users"|"groups", "verbs", "resources", "names"?}]}
                             answered by TokenReview / SubjectAccessReview (webhook kubelets, the tunnel server)`;

export interface CliOptions {
  host: string;
  port: number;
  seedFile?: string;
  kubeconfigFile?: string;
  requestLogFile?: string;
  /** PEM file paths of the kubelet-client identity; absent: no kubelet proxy */
  kubelet?: { certFile: string; keyFile: string; caFile?: string };
  /** JSON file of the TokenReview / SubjectAccessReview table */
  authFile?: string;
}

function bad(message: string): FakeApiServerError {
  return new FakeApiServerError(ErrorCode.BadOptions, `fake-apiserver: ${message}\n${USAGE}`);
}

/** `host:port` or `[v6]:port`. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw bad(`--listen ${JSON.stringify(value)} is not HOST:PORT (port 0..65535)`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The options of `argv` (without node and script), or 'help'; throws ERR_FAKE_APISERVER_BAD_OPTIONS. */
export function parseCli(argv: readonly string[]): CliOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        listen: { type: 'string', default: '127.0.0.1:0' },
        seed: { type: 'string' },
        kubeconfig: { type: 'string' },
        'request-log': { type: 'string' },
        'kubelet-client-cert': { type: 'string' },
        'kubelet-client-key': { type: 'string' },
        'kubelet-ca': { type: 'string' },
        auth: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (values.help) return 'help';
  const cert = values['kubelet-client-cert'];
  const key = values['kubelet-client-key'];
  if ((cert === undefined) !== (key === undefined)) throw bad('--kubelet-client-cert and --kubelet-client-key go together');
  if (values['kubelet-ca'] !== undefined && cert === undefined) throw bad('--kubelet-ca needs --kubelet-client-cert and --kubelet-client-key');
  return {
    ...parseListen(values.listen),
    seedFile: values.seed,
    kubeconfigFile: values.kubeconfig,
    requestLogFile: values['request-log'],
    authFile: values.auth,
    kubelet: cert === undefined || key === undefined ? undefined : { certFile: cert, keyFile: key, caFile: values['kubelet-ca'] },
  };
}
