// The kubectl testbed: real edge-tunnel server and agents, emulated kubelets, the fake API server and
// the real kubectl, in whichever mode this machine allows — netns (root: the API server is its own
// process in the cloud namespace and dials `edgeIP:10250`, which iptables DNATs to the server) or
// loopback (the API server in-process, reaching kubelets through the CONNECT frontend).
// `EDGE_TUNNEL_TESTBED_MODE=loopback|netns` forces one. Both give the same handle.
import { chooseMode } from '../netns/testbed.js';
import type { KubectlTestbed, KubectlTestbedOptions } from './handle.js';
import { startLoopbackKubectl } from './loopback-mode.js';
import { startNetnsKubectl } from './netns-mode.js';

export { freePort } from '@edge-tunnel/lab';
export { KUBECTL_MODES, type KubectlMode, type KubectlTestbed, type KubectlTestbedOptions, type PodHttpServer } from './handle.js';

/** Start the kubectl testbed in the mode this machine allows (or `options.mode`). */
export async function startKubectlTestbed(options: KubectlTestbedOptions = {}): Promise<KubectlTestbed> {
  const { mode, reason } = await chooseMode(options.mode);
  return mode === 'netns' ? startNetnsKubectl(options, reason) : startLoopbackKubectl(options, reason);
}
