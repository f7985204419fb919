import type { ResourceDef } from './resources.js';

function def(group: string, name: string, kind: string, namespaced: boolean, shortNames: string[] = [], subresources: string[] = []): ResourceDef {
  return { name, singularName: kind.toLowerCase(), kind, group, version: 'v1', namespaced, shortNames, subresources, categories: [] };
}

/**
 * The kinds of `k8s/` (what `kubectl apply -k` creates): stored and served like the others, with no
 * controller behind them (a Deployment's status is whatever a test writes into it).
 */
export const DEPLOY_RESOURCES: readonly ResourceDef[] = [
  def('', 'serviceaccounts', 'ServiceAccount', true, ['sa']),
  def('apps', 'deployments', 'Deployment', true, ['deploy'], ['status']),
  def('apps', 'daemonsets', 'DaemonSet', true, ['ds'], ['status']),
  def('policy', 'poddisruptionbudgets', 'PodDisruptionBudget', true, ['pdb'], ['status']),
  def('rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole', false),
  def('rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding', false),
  def('rbac.authorization.k8s.io', 'roles', 'Role', true),
  def('rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding', true),
];
