// Objects put into the store at start, from a JSON document `{"<resource>": [objects]}`.
import { ErrorCode, FakeApiServerError } from './errors.js';
import type { KubeObject, ObjectStore } from './store.js';

/** A seed document: resource plural name → objects. */
export type SeedDocument = Record<string, KubeObject[]>;

/** Put every object of `doc` (parsed JSON) into `store`; throws ERR_FAKE_APISERVER_BAD_OPTIONS naming `source`. */
export function seedStore(store: ObjectStore, doc: unknown, source: string): number {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new FakeApiServerError(ErrorCode.BadOptions, `${source}: expected a JSON object {"<resource>": [objects]}`);
  }
  let count = 0;
  for (const [resource, objects] of Object.entries(doc)) {
    if (!Array.isArray(objects)) throw new FakeApiServerError(ErrorCode.BadOptions, `${source}: "${resource}" must be an array of objects`);
    for (const obj of objects as KubeObject[]) {
      try {
        store.put(resource, obj);
      } catch (err) {
        throw new FakeApiServerError(ErrorCode.BadOptions, `${source}: ${resource}[${count}]: ${(err as Error).message}`, { cause: err });
      }
      count++;
    }
  }
  return count;
}
