// Cluster mode: TokenReview (authentication.k8s.io/v1) and SubjectAccessReview
// (authorization.k8s.io/v1) for bearer-token callers on :10263, as the kubelet's webhooks ask them.
// The server's service account needs `create` on both (k8s/base RBAC: system:auth-delegator).
import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { NodeAttributes } from '../proxy/kubelet-attrs.js';
import type { AccessDecision, Reviews, TokenReviewResult, TokenUser } from '../proxy/token-auth.js';

export function apiReviews(kc: KubeConfig): Reviews {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    async reviewToken(token: string): Promise<TokenReviewResult> {
      const r = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
      const s = r.status;
      if (s?.authenticated !== true || !s.user?.username) return { authenticated: false, ...(s?.error ? { error: s.error } : {}) };
      const user: TokenUser = { username: s.user.username, groups: s.user.groups ?? [] };
      if (s.user.uid) user.uid = s.user.uid;
      if (s.user.extra) user.extra = s.user.extra;
      return { authenticated: true, user };
    },
    async reviewAccess(user: TokenUser, attrs: NodeAttributes): Promise<AccessDecision> {
      const r = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            groups: user.groups,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            resourceAttributes: { group: '', version: 'v1', resource: attrs.resource, subresource: attrs.subresource, verb: attrs.verb, name: attrs.name },
          },
        },
      });
      const s = r.status;
      return { allowed: s?.allowed === true && s.denied !== true, ...(s?.reason ? { reason: s.reason } : {}) };
    },
  };
}
