/**
 * Kubernetes manifests as the deployment test reads them: every document of every YAML file,
 * parsed the way the API server's client does (YAML 1.1, so `yes` / `on` are booleans and must
 * be quoted where a string is meant), with small typed accessors for the parts the test checks.
 *
 * Trust boundary: none; it reads files from this repository.
 */
import { parseAllDocuments } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Manifest {
  readonly file: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly body: JsonObject;
}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `path`, or a TypeError naming the path. */
export function objectAt(value: Json | undefined, path: string): JsonObject {
  let current: Json | undefined = value;
  for (const key of path.split('.').filter((part) => part !== '')) current = isObject(current) ? current[key] : undefined;
  if (!isObject(current)) throw new TypeError(`expected an object at ${path}`);
  return current;
}

/** The array at `key` of an object (empty when absent), or a TypeError. */
export function arrayAt(value: JsonObject, key: string): Json[] {
  const found = value[key];
  if (found === undefined) return [];
  if (!Array.isArray(found)) throw new TypeError(`expected an array at ${key}`);
  return found;
}

export function stringAt(value: JsonObject, key: string): string {
  const found = value[key];
  if (typeof found !== 'string') throw new TypeError(`expected a string at ${key}, got ${JSON.stringify(found)}`);
  return found;
}

/**
 * Parses every document of a YAML file.
 * @throws SyntaxError naming the file and the first error (duplicate keys included).
 */
export function parseYamlDocuments(text: string, file: string): Json[] {
  const documents = parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  const out: Json[] = [];
  for (const document of documents) {
    const problem = document.errors[0] ?? document.warnings[0];
    if (problem !== undefined) throw new SyntaxError(`${file}: ${problem.message}`);
    const value = document.toJS({ maxAliasCount: 0 }) as Json | undefined;
    if (value === null || value === undefined) continue;
    out.push(value);
  }
  return out;
}

/**
 * Turns parsed documents into manifests.
 * @throws TypeError for a document without apiVersion, kind and metadata.name.
 */
export function toManifests(documents: readonly Json[], file: string): Manifest[] {
  return documents.map((document, index) => {
    if (!isObject(document)) throw new TypeError(`${file} document ${index + 1}: not a mapping`);
    const where = `${file} document ${index + 1}`;
    const kind = document['kind'];
    const apiVersion = document['apiVersion'];
    if (typeof kind !== 'string' || typeof apiVersion !== 'string') throw new TypeError(`${where}: apiVersion and kind are required`);
    if (kind === 'Kustomization') return { file, kind, apiVersion, name: 'kustomization', namespace: undefined, body: document };
    const metadata = objectAt(document, 'metadata');
    const namespace = metadata['namespace'];
    return { file, kind, apiVersion, name: stringAt(metadata, 'name'), namespace: typeof namespace === 'string' ? namespace : undefined, body: document };
  });
}

/** The pod template (Deployment) or the pod spec itself (Pod), with the pod's labels. */
export function podOf(manifest: Manifest): { readonly labels: JsonObject; readonly spec: JsonObject } {
  if (manifest.kind === 'Pod') return { labels: objectAt(manifest.body, 'metadata.labels'), spec: objectAt(manifest.body, 'spec') };
  return { labels: objectAt(manifest.body, 'spec.template.metadata.labels'), spec: objectAt(manifest.body, 'spec.template.spec') };
}

/** The containers of a pod spec, by name. */
export function containersOf(spec: JsonObject): JsonObject[] {
  return arrayAt(spec, 'containers').map((container, index) => {
    if (!isObject(container)) throw new TypeError(`container ${index} is not a mapping`);
    return container;
  });
}

/** Whether `labels` carries every pair of `selector`. */
export function selects(selector: JsonObject, labels: JsonObject): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
