import { RESOURCES, apiVersionOf, type ResourceDef } from './resources.js';

/**
 * A minimal OpenAPI v3 discovery: `/openapi/v3` lists one document per group-version, and each
 * document names, per resource, the PATCH operation with its `x-kubernetes-group-version-kind`
 * and the `fieldValidation` query parameter. That is what kubectl 1.32 looks for before it leaves
 * validation to the server (`--validate=strict`, the default, sends `fieldValidation=Strict`);
 * without it kubectl downloads full schemas for client-side validation, which this server has not.
 * No schemas are served: kubectl apply then builds strategic merge patches from its compiled-in types.
 */
export function openApiV3(pathname: string): object | undefined {
  if (pathname === '/openapi/v3' || pathname === '/openapi/v3/') return root();
  const gv = pathname.startsWith('/openapi/v3/') ? pathname.slice('/openapi/v3/'.length) : undefined;
  if (gv === undefined) return undefined;
  const defs = RESOURCES.filter((r) => gvPath(r) === gv);
  return defs.length ? groupVersionDoc(defs) : undefined;
}

function gvPath(def: ResourceDef): string {
  return def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`;
}

function root(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const def of RESOURCES) paths[gvPath(def)] = { serverRelativeURL: `/openapi/v3/${gvPath(def)}?hash=fake` };
  return { paths };
}

function groupVersionDoc(defs: ResourceDef[]): object {
  const paths: Record<string, object> = {};
  for (const def of defs) {
    const base = `/${gvPath(def)}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.name}/{name}`;
    paths[base] = {
      patch: {
        operationId: `patch${def.kind}`,
        'x-kubernetes-group-version-kind': { group: def.group, version: def.version, kind: def.kind },
        parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (fake)', version: apiVersionOf(defs[0]!) }, paths };
}
