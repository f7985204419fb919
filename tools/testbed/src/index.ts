// Public API of @edge-tunnel/testbed.
export * from './netns/index.js';
export { startKubectlTestbed, KUBECTL_MODES, type KubectlMode, type KubectlTestbed, type KubectlTestbedOptions } from './kubectl/testbed.js';
export { startBanner, kubectlCommands, netnsCurlCommands, type StartCommand } from './kubectl/start-commands.js';
export { Kubectl, kubectlMissing, KUBECTL_PATH } from './kubectl/kubectl.js';
export { connectDial, connectThrough } from './kubectl/connect-dial.js';
