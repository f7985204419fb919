// Public API of @edge-tunnel/testbed.
export * from './netns/index.js';
export { startKubectlTestbed } from './kubectl/testbed.js';
export { Kubectl, kubectlMissing, KUBECTL_PATH } from './kubectl/kubectl.js';
export { connectDial, connectThrough } from './kubectl/connect-dial.js';
