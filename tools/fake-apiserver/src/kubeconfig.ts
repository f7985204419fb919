/** Name used for the cluster, user and context of generated kubeconfigs. */
export const KUBECONFIG_NAME = 'fake-apiserver';

/**
 * A kubeconfig (YAML) pointing at `url` with a dummy bearer token (the server ignores
 * credentials). It always sets `insecure-skip-tls-verify`: with TLS the certificate is not
 * verified, and over plain HTTP client-node 2.x refuses to connect without it
 * ("HTTP protocol is not allowed when skipTLSVerify is not set or false").
 */
export function kubeconfigYaml(url: string): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${KUBECONFIG_NAME}`,
    '  cluster:',
    `    server: ${q(url)}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${KUBECONFIG_NAME}`,
    '  user:',
    `    token: ${q('fake-token')}`,
    'contexts:',
    `- name: ${KUBECONFIG_NAME}`,
    '  context:',
    `    cluster: ${KUBECONFIG_NAME}`,
    `    user: ${KUBECONFIG_NAME}`,
    '    namespace: default',
    `current-context: ${KUBECONFIG_NAME}`,
    '',
  ].join('\n');
}
