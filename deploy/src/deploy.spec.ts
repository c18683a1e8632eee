/**
 * deploy/ held to the code it deploys. Every YAML document parses (as Kubernetes reads YAML) and
 * has the kinds the controller needs; every flag and environment variable named in a Dockerfile,
 * a manifest, the systemd unit or docs/deployment.md is one the binaries list in their real
 * `--help` (or one docs/ names for the KMS providers); ports, probe paths, volumes, users and the
 * socket path agree across files; the example configs pass the binaries' own strict config rules;
 * and the agent image's runtime layout, assembled by the Dockerfile's own step, starts and loads
 * its SQLite addon from itself alone.
 *
 * Trust boundary: none; no network, no container runtime, no systemd. The binaries run as child
 * processes from this checkout.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flagsIn, invocationsIn, parseHelp, type CommandOptions } from './cli-help.js';
import { execForm, instructionsOf, parseDockerfile, stageArgs, stageEnv, type Dockerfile, type Stage } from './dockerfile.js';
import { arrayAt, containersOf, isObject, objectAt, parseYamlDocuments, podOf, selects, stringAt, toManifests, type Json, type JsonObject, type Manifest } from './manifests.js';
import { DEPLOY_DIR, REPO_ROOT, runBinary, runNode } from './repo.js';
import { environmentOf, lastValue, parseUnit, splitCommandLine, valuesOf, type UnitFile } from './systemd-unit.js';

const run = promisify(execFile);
const K8S_DIR = join(DEPLOY_DIR, 'k8s');
const DOCKER_DIR = join(DEPLOY_DIR, 'docker');
const SYSTEMD_DIR = join(DEPLOY_DIR, 'systemd');
const DEPLOYMENT_DOC = join(REPO_ROOT, 'docs', 'deployment.md');

/** Documentation pages whose backticked variable names count as "documented" (the KMS providers' environment). */
const ENV_DOCS = ['docs/providers.md', 'docs/controller.md', 'docs/providers/aws.md', 'docs/providers/azure.md', 'docs/providers/gcp.md', 'docs/providers/vault.md', 'docs/providers/local.md'];
/** Node's own variables an image may set. */
const PLATFORM_ENV = new Set(['NODE_ENV']);
/** A variable with one of these in its name holds a secret unless it names a file or path. */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSPHRASE|PRIVATE|CREDENTIAL/;
const SECRET_LITERALS = [/\bfk_(?:op|enr|app)_[A-Za-z0-9_-]{8,}/, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, /\bAKIA[0-9A-Z]{16}\b/];
/** Install-time dependencies of the SQLite addon that nothing requires at run time. */
const INSTALL_ONLY_PACKAGES = new Set(['prebuild-install']);
/** Kinds the controller's manifests must provide (count per kind). */
const EXPECTED_KINDS: Readonly<Record<string, number>> = {
  Namespace: 1,
  ServiceAccount: 1,
  ConfigMap: 2,
  PersistentVolumeClaim: 1,
  Deployment: 1,
  Service: 2,
  NetworkPolicy: 1,
  PodDisruptionBudget: 1,
  Kustomization: 1,
  Pod: 1,
};

type HelpKey = `${'fleet-controller' | 'edge-agent'} ${string}`;
const help = new Map<HelpKey, CommandOptions>();
let documentedEnv: Set<string>;
let manifests: Manifest[];
let controllerImage: Dockerfile;
let agentImage: Dockerfile;
let unit: UnitFile;
let agentConfig: JsonObject;
let scratch: string;

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

function helpOf(key: HelpKey): CommandOptions {
  const found = help.get(key);
  if (found === undefined) throw new Error(`no help read for ${key}`);
  return found;
}

function only(kind: string, name?: string): Manifest {
  const found = manifests.filter((manifest) => manifest.kind === kind && (name === undefined || manifest.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`);
  return found[0]!;
}

function finalStage(image: Dockerfile): Stage {
  return image.stages[image.stages.length - 1]!;
}

function portOf(hostPort: string): number {
  const match = /:(\d{1,5})$/.exec(hostPort);
  if (match === null) throw new Error(`expected HOST:PORT, got ${hostPort}`);
  return Number(match[1]);
}

/** Files of the deploy directory that the checks read (not the test's own sources). */
async function deployFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of [K8S_DIR, DOCKER_DIR, SYSTEMD_DIR]) for (const name of await readdir(dir)) files.push(join(dir, name));
  return files;
}

/** The controller's deployment and its one container. */
function controllerPod(): { deployment: Manifest; labels: JsonObject; spec: JsonObject; container: JsonObject } {
  const deployment = only('Deployment', 'fleetkey-controller');
  const { labels, spec } = podOf(deployment);
  const containers = containersOf(spec);
  expect(containers).toHaveLength(1);
  return { deployment, labels, spec, container: containers[0]! };
}

function serveConfigOf(): JsonObject {
  const config = only('ConfigMap', 'fleetkey-controller-config');
  const parsed = JSON.parse(stringAt(objectAt(config.body, 'data'), 'serve.json')) as Json;
  if (!isObject(parsed)) throw new TypeError('serve.json is not an object');
  return parsed;
}

function envEntries(container: JsonObject): JsonObject[] {
  return arrayAt(container, 'env').filter(isObject);
}

function envValue(container: JsonObject, name: string): string | undefined {
  const entry = envEntries(container).find((item) => item['name'] === name);
  return typeof entry?.['value'] === 'string' ? entry['value'] : undefined;
}

function namedPorts(container: JsonObject): Map<string, number> {
  const ports = new Map<string, number>();
  for (const port of arrayAt(container, 'ports').filter(isObject)) ports.set(stringAt(port, 'name'), port['containerPort'] as number);
  return ports;
}

function volumeMount(container: JsonObject, volume: string): JsonObject {
  const mount = arrayAt(container, 'volumeMounts').filter(isObject).find((item) => item['name'] === volume);
  if (mount === undefined) throw new Error(`no mount of volume ${volume}`);
  return mount;
}

function volume(spec: JsonObject, name: string): JsonObject {
  const found = arrayAt(spec, 'volumes').filter(isObject).find((item) => item['name'] === name);
  if (found === undefined) throw new Error(`no volume ${name}`);
  return found;
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The uid:gid of a stage's USER, which must be numeric (Kubernetes runAsNonRoot can check only a number). */
function userOf(stage: Stage): { uid: number; gid: number } {
  const users = instructionsOf(stage, 'USER');
  expect(users.length, 'one USER in the final stage').toBe(1);
  const match = /^(\d+):(\d+)$/.exec(users[0]!.args);
  if (match === null) throw new Error(`USER must be a numeric uid:gid, got ${users[0]!.args}`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

function entrypointOf(stage: Stage): { entrypoint: string[]; cmd: string[] } {
  const entry = instructionsOf(stage, 'ENTRYPOINT');
  const cmd = instructionsOf(stage, 'CMD');
  expect(entry).toHaveLength(1);
  expect(cmd).toHaveLength(1);
  return { entrypoint: execForm(entry[0]!.args, entry[0]!.line), cmd: execForm(cmd[0]!.args, cmd[0]!.line) };
}

function volumesOf(stage: Stage): string[] {
  return instructionsOf(stage, 'VOLUME').flatMap((instruction) => execForm(instruction.args, instruction.line));
}

/** The runtime dependency closure of a package in the repository's node_modules. */
function runtimeClosure(root: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || INSTALL_ONLY_PACKAGES.has(name)) return;
    seen.add(name);
    const manifest = JSON.parse(readText(join(REPO_ROOT, 'node_modules', name, 'package.json'))) as { dependencies?: Record<string, string> };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(dependency);
  };
  visit(root);
  return [...seen].sort();
}

beforeAll(async () => {
  // Which subcommands deploy/ and the deployment guide run decides which help texts are read.
  const sources = [...(await deployFiles()), DEPLOYMENT_DOC];
  const wanted = new Set<HelpKey>(['fleet-controller serve', 'edge-agent serve']);
  for (const file of sources) for (const invocation of invocationsIn(readText(file), file)) wanted.add(`${invocation.binary} ${invocation.command}`);
  const texts = await Promise.all(
    [...wanted].map(async (key) => {
      const [binary, command] = key.split(' ') as ['fleet-controller' | 'edge-agent', string];
      const result = await runBinary(binary, [command, '--help']);
      if (result.code !== 0) throw new Error(`${key} --help exited ${result.code}: ${result.stderr}`);
      return [key, parseHelp(result.stdout)] as const;
    }),
  );
  for (const [key, options] of texts) help.set(key, options);

  documentedEnv = new Set();
  for (const doc of ENV_DOCS) for (const match of readText(join(REPO_ROOT, doc)).matchAll(/`((?:FLEETKEY|AWS|AZURE|GOOGLE|VAULT)_[A-Z0-9_]+)/g)) documentedEnv.add(match[1]!);

  manifests = [];
  for (const name of (await readdir(K8S_DIR)).filter((file) => file.endsWith('.yaml')).sort()) {
    manifests.push(...toManifests(parseYamlDocuments(readText(join(K8S_DIR, name)), name), name));
  }
  controllerImage = parseDockerfile(readText(join(DOCKER_DIR, 'controller.Dockerfile')));
  agentImage = parseDockerfile(readText(join(DOCKER_DIR, 'edge-agent.Dockerfile')));
  unit = parseUnit(readText(join(SYSTEMD_DIR, 'edge-agent.service')));
  const parsedAgentConfig = JSON.parse(readText(join(SYSTEMD_DIR, 'agent.json'))) as Json;
  if (!isObject(parsedAgentConfig)) throw new TypeError('agent.json is not an object');
  agentConfig = parsedAgentConfig;
  // Inside the repository (dist/ is ignored by git): hard links to node_modules need one file system.
  await mkdir(join(DEPLOY_DIR, 'dist'), { recursive: true });
  scratch = await mkdtemp(join(DEPLOY_DIR, 'dist', `test-${process.pid}-`));
});

afterAll(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('Kubernetes manifests', () => {
  it('every document parses as YAML 1.1 with unique keys, and the set of kinds is the expected one', () => {
    const counts: Record<string, number> = {};
    for (const manifest of manifests) counts[manifest.kind] = (counts[manifest.kind] ?? 0) + 1;
    expect(counts).toEqual(EXPECTED_KINDS);
    const namespace = only('Namespace').name;
    for (const manifest of manifests.filter((item) => item.kind !== 'Namespace' && item.kind !== 'Kustomization')) expect(manifest.namespace, `${manifest.file} ${manifest.kind}`).toBe(namespace);
    // Label and annotation values are strings to the API server: an unquoted `true` is refused.
    for (const manifest of manifests.filter((item) => item.kind !== 'Kustomization')) {
      const metadatas = [objectAt(manifest.body, 'metadata')];
      if (manifest.kind === 'Deployment') metadatas.push(objectAt(manifest.body, 'spec.template.metadata'));
      for (const metadata of metadatas) {
        for (const field of ['labels', 'annotations']) {
          const values = metadata[field];
          if (values === undefined) continue;
          for (const [key, value] of Object.entries(objectAt(values, ''))) expect(typeof value, `${manifest.file} ${field}.${key}`).toBe('string');
        }
      }
    }
  });

  it('a document the API server would misread is refused by the same parser', () => {
    expect(() => parseYamlDocuments('metadata:\n  name: a\n  name: b\n', 'dup.yaml')).toThrow(/dup\.yaml/);
    expect(parseYamlDocuments('labels:\n  use: yes\n', 'bool.yaml')).toEqual([{ labels: { use: true } }]);
    expect(() => toManifests(parseYamlDocuments('kind: Service\n', 'x.yaml'), 'x.yaml')).toThrow(/apiVersion and kind/);
  });

  it('kustomization.yaml lists every manifest but the one-time init pod', async () => {
    const kustomization = only('Kustomization');
    const resources = arrayAt(kustomization.body, 'resources');
    const files = (await readdir(K8S_DIR)).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml' && name !== 'controller-init-pod.yaml');
    expect([...resources].sort()).toEqual(files.sort());
    expect(kustomization.body['namespace']).toBe(only('Namespace').name);
  });

  it('one replica, recreated, on one ReadWriteOnce volume: never two writers on the SQLite store', () => {
    const { deployment, labels, spec } = controllerPod();
    expect(objectAt(deployment.body, 'spec')['replicas']).toBe(1);
    expect(objectAt(deployment.body, 'spec.strategy')['type']).toBe('Recreate');
    expect(selects(objectAt(deployment.body, 'spec.selector.matchLabels'), labels)).toBe(true);
    const claim = stringAt(objectAt(volume(spec, 'data'), 'persistentVolumeClaim'), 'claimName');
    expect(arrayAt(objectAt(only('PersistentVolumeClaim', claim).body, 'spec'), 'accessModes')).toEqual(['ReadWriteOnce']);
    const budget = objectAt(only('PodDisruptionBudget').body, 'spec');
    expect(selects(objectAt(budget, 'selector.matchLabels'), labels)).toBe(true);
  });

  it('every Service targets a named port of the pods it selects, and the HTTP port is never on the load balancer', () => {
    const { labels, container } = controllerPod();
    const ports = namedPorts(container);
    const services = manifests.filter((manifest) => manifest.kind === 'Service');
    for (const service of services) {
      const spec = objectAt(service.body, 'spec');
      expect(selects(objectAt(spec, 'selector'), labels), `${service.name} selects the controller`).toBe(true);
      for (const port of arrayAt(spec, 'ports').filter(isObject)) {
        const target = stringAt(port, 'targetPort');
        expect(ports.has(target), `${service.name} targetPort ${target}`).toBe(true);
        expect(port['name']).toBe(target);
        expect(port['port']).toBe(ports.get(target));
      }
    }
    const balanced = services.filter((service) => objectAt(service.body, 'spec')['type'] === 'LoadBalancer');
    expect(balanced).toHaveLength(1);
    expect(arrayAt(objectAt(balanced[0]!.body, 'spec'), 'ports').filter(isObject).map((port) => port['targetPort'])).toEqual(['grpc', 'mqtt']);
  });

  it('probes are /healthz and /readyz on the port --http-listen binds, and the gRPC and MQTT ports are the ones serve.json binds', () => {
    const { container, spec } = controllerPod();
    const ports = namedPorts(container);
    const serve = serveConfigOf();
    expect(ports.get('http')).toBe(portOf(stringAt(serve, 'httpListen')));
    expect(ports.get('grpc')).toBe(portOf(stringAt(serve, 'listen')));
    expect(ports.get('mqtt')).toBe(portOf(stringAt(serve, 'mqttListen')));
    for (const [probe, path] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
      const get = objectAt(container, `${probe}.httpGet`);
      expect(get['path'], probe).toBe(path);
      expect(get['port'], probe).toBe('http');
    }
    // serve reads the file the ConfigMap mounts.
    const args = arrayAt(container, 'args') as string[];
    const configPath = args[args.indexOf('--config') + 1]!;
    expect(args[0]).toBe('serve');
    const mount = volumeMount(container, 'config');
    expect(posix.dirname(configPath)).toBe(mount['mountPath']);
    expect(objectAt(volume(spec, 'config'), 'configMap')['name']).toBe('fleetkey-controller-config');
    expect(posix.basename(configPath)).toBe('serve.json');
    // The pod outlives the drain: calls in flight finish and the audit head is signed.
    expect(spec['terminationGracePeriodSeconds'] as number).toBeGreaterThan(serve['drainSeconds'] as number);
  });

  it('every flag and environment variable is one the controller reads, and secrets arrive only by Secret reference', async () => {
    const serveHelp = helpOf('fleet-controller serve');
    const known = new Set([...serveHelp.env, ...documentedEnv]);
    for (const pod of manifests.filter((manifest) => manifest.kind === 'Deployment' || manifest.kind === 'Pod')) {
      for (const container of containersOf(podOf(pod).spec)) {
        if (pod.kind === 'Deployment') for (const flag of flagsIn(arrayAt(container, 'args') as string[])) expect(serveHelp.flags, `${pod.file} ${flag}`).toContain(flag);
        for (const entry of envEntries(container)) {
          const name = stringAt(entry, 'name');
          expect(known, `${pod.file} env ${name}`).toContain(name);
          if (SECRET_NAME.test(name) && !/_(FILE|PATH)$/.test(name)) {
            expect(entry['value'], `${name} is written in the manifest`).toBeUndefined();
            expect(objectAt(entry, 'valueFrom.secretKeyRef')['name'], `${name} comes from a Secret`).toBeTypeOf('string');
          }
        }
        for (const source of arrayAt(container, 'envFrom').filter(isObject)) {
          expect(source['secretRef'], 'no envFrom a whole Secret: each secret is named').toBeUndefined();
          const data = objectAt(only('ConfigMap', stringAt(objectAt(source, 'configMapRef'), 'name')).body, 'data');
          for (const name of Object.keys(data)) {
            expect(known, `ConfigMap variable ${name}`).toContain(name);
            expect(SECRET_NAME.test(name), `${name} is a secret in a ConfigMap`).toBe(false);
          }
        }
      }
    }
    expect(manifests.filter((manifest) => manifest.kind === 'Secret')).toEqual([]);
    for (const file of await deployFiles()) for (const literal of SECRET_LITERALS) expect(literal.test(readText(file)), `${file} holds ${literal}`).toBe(false);
  });

  it("the pod runs as the image's non-root uid with a read-only root, no privilege, the data dir inside the data volume and a writable /tmp for tsx", () => {
    const { spec, container } = controllerPod();
    const { uid, gid } = userOf(finalStage(controllerImage));
    const podSecurity = objectAt(spec, 'securityContext');
    expect(podSecurity).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid, seccompProfile: { type: 'RuntimeDefault' } });
    expect(objectAt(container, 'securityContext')).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const dataDir = envValue(container, 'FLEETKEY_DATA_DIR');
    const dataMount = volumeMount(container, 'data')['mountPath'] as string;
    expect(dataDir).toBeDefined();
    // Strictly inside: init renames a sibling staging directory onto it.
    expect(isInside(dataDir!, dataMount) && dataDir !== dataMount).toBe(true);
    expect(volumeMount(container, 'tmp')['mountPath']).toBe('/tmp');
    expect(volume(spec, 'tmp')['emptyDir']).toBeDefined();
    expect(spec['enableServiceLinks']).toBe(false);
  });

  it('workload identity: the service account exists, names a cloud KMS identity and mounts no API token', () => {
    const { spec, labels } = controllerPod();
    const account = only('ServiceAccount', stringAt(spec, 'serviceAccountName'));
    const annotations = Object.keys(objectAt(account.body, 'metadata.annotations'));
    expect(annotations).toEqual(expect.arrayContaining(['eks.amazonaws.com/role-arn', 'iam.gke.io/gcp-service-account', 'azure.workload.identity/client-id']));
    expect(account.body['automountServiceAccountToken']).toBe(false);
    expect(spec['automountServiceAccountToken']).toBe(false);
    expect(labels['azure.workload.identity/use']).toBe('true');
  });

  it('NetworkPolicy: gRPC and MQTT in, HTTP only from the cluster, out only to DNS, HTTPS and the metadata server', () => {
    const { labels, container } = controllerPod();
    const ports = namedPorts(container);
    const policy = objectAt(only('NetworkPolicy').body, 'spec');
    expect(selects(objectAt(policy, 'podSelector.matchLabels'), labels)).toBe(true);
    expect(selects(objectAt(policy, 'podSelector.matchLabels'), podOf(only('Pod')).labels)).toBe(true);
    expect(arrayAt(policy, 'policyTypes')).toEqual(['Ingress', 'Egress']);
    const ingress = arrayAt(policy, 'ingress').filter(isObject);
    const openToAll = new Set<Json>();
    for (const rule of ingress) {
      const rulePorts = arrayAt(rule, 'ports').filter(isObject);
      expect(rulePorts.length, 'an ingress rule without ports opens every port').toBeGreaterThan(0);
      for (const port of rulePorts) {
        expect(ports.has(port['port'] as string), `ingress port ${String(port['port'])} is a container port name`).toBe(true);
        if (rule['from'] === undefined) openToAll.add(port['port']!);
      }
    }
    expect([...openToAll].sort()).toEqual(['grpc', 'mqtt']);
    const httpRule = ingress.find((rule) => arrayAt(rule, 'ports').some((port) => isObject(port) && port['port'] === 'http'));
    expect(arrayAt(httpRule!, 'from')).toEqual([{ namespaceSelector: {} }]);
    const egress = arrayAt(policy, 'egress').filter(isObject);
    const egressPorts = egress.flatMap((rule) => {
      const rulePorts = arrayAt(rule, 'ports').filter(isObject);
      expect(rulePorts.length, 'an egress rule without ports allows everything').toBeGreaterThan(0);
      return rulePorts.map((port) => `${String(port['port'])}/${String(port['protocol'])}`);
    });
    expect(egressPorts).toEqual(expect.arrayContaining(['53/UDP', '53/TCP', '443/TCP']));
    expect(new Set(egressPorts)).toEqual(new Set(['53/UDP', '53/TCP', '443/TCP', '80/TCP', '988/TCP']));
  });

  it('the init pod has the Deployment’s image, identity, environment and volume, and the Deployment does not adopt it', () => {
    const { deployment, spec, container } = controllerPod();
    const init = podOf(only('Pod'));
    const [initContainer] = containersOf(init.spec);
    expect(initContainer!['image']).toBe(container['image']);
    expect(init.spec['serviceAccountName']).toBe(spec['serviceAccountName']);
    expect(init.spec['securityContext']).toMatchObject(objectAt(spec, 'securityContext'));
    expect(initContainer!['envFrom']).toEqual(container['envFrom']);
    const secretEnv = (item: JsonObject): Json[] => envEntries(item).filter((entry) => isObject(entry['valueFrom']));
    expect(secretEnv(initContainer!)).toEqual(secretEnv(container));
    expect(volume(init.spec, 'data')).toEqual(volume(spec, 'data'));
    expect(volumeMount(initContainer!, 'data')['mountPath']).toBe(volumeMount(container, 'data')['mountPath']);
    expect(selects(objectAt(deployment.body, 'spec.selector.matchLabels'), init.labels)).toBe(false);
  });
});

describe('container images', () => {
  it('both are multi-stage on one Node LTS slim image (the addon is built and run on the same ABI), compile in the build stage only, and run as a fixed non-root uid', () => {
    for (const image of [controllerImage, agentImage]) {
      expect(image.stages.length).toBeGreaterThanOrEqual(2);
      const froms = new Set(image.stages.map((stage) => stage.from));
      expect(froms.size).toBe(1);
      const match = /^node:(\d+)-bookworm-slim$/.exec([...froms][0]!);
      expect(match).not.toBeNull();
      const major = Number(match![1]);
      expect(major % 2 === 0 && major >= 20, `Node ${major} is an LTS line >= 20`).toBe(true);
      const [build] = image.stages;
      const buildRuns = instructionsOf(build!, 'RUN').map((instruction) => instruction.args).join('\n');
      for (const tool of ['python3', 'make', 'g++']) expect(buildRuns).toMatch(new RegExp(`apt-get install[^\\n]*\\s${tool.replace(/\+/g, '\\+')}(\\s|$)`));
      expect(stageEnv(build!).get('npm_config_build_from_source')).toBe('true');
      const final = finalStage(image);
      expect(instructionsOf(final, 'RUN').some((instruction) => /apt-get install/.test(instruction.args)), 'no compiler in the runtime image').toBe(false);
      const { uid, gid } = userOf(final);
      expect(uid).toBeGreaterThan(0);
      const created = instructionsOf(final, 'RUN').map((instruction) => instruction.args).join('\n');
      expect(created).toContain(`--uid ${uid} --gid ${gid}`);
    }
  });

  it('the controller image runs bin/fleet-controller.mjs serve with its own settings; ports, data volume and health check agree', () => {
    const final = finalStage(controllerImage);
    const { entrypoint, cmd } = entrypointOf(final);
    const workdir = instructionsOf(final, 'WORKDIR').at(-1)!.args;
    expect(entrypoint).toEqual(['node', 'apps/fleet-controller/bin/fleet-controller.mjs']);
    expect(cmd).toEqual(['serve']);
    expect(existsSync(join(REPO_ROOT, entrypoint[1]!))).toBe(true);
    const copied = instructionsOf(final, 'COPY').map((instruction) => instruction.args);
    expect(copied).toContain(`--from=build /src/apps/fleet-controller ./apps/fleet-controller`);
    expect(copied).toContain(`--from=build /src/node_modules ./node_modules`);
    expect(copied).toContain(`--from=build /src/libs ./libs`);
    expect(workdir).toBe('/opt/fleetkey');
    const env = stageEnv(final);
    const known = new Set([...helpOf('fleet-controller serve').env, ...documentedEnv, ...PLATFORM_ENV]);
    for (const name of env.keys()) expect(known, `ENV ${name}`).toContain(name);
    const exposed = instructionsOf(final, 'EXPOSE').flatMap((instruction) => instruction.args.split(/\s+/)).map(Number);
    const byNumber = (a: number, b: number): number => a - b;
    expect(exposed.sort(byNumber)).toEqual([env.get('FLEETKEY_LISTEN')!, env.get('FLEETKEY_MQTT_LISTEN')!, env.get('FLEETKEY_HTTP_LISTEN')!].map(portOf).sort(byNumber));
    const dataDir = env.get('FLEETKEY_DATA_DIR')!;
    expect(volumesOf(final)).toContain(posix.dirname(dataDir));
    const healthcheck = instructionsOf(final, 'HEALTHCHECK');
    expect(healthcheck).toHaveLength(1);
    expect(healthcheck[0]!.args).toContain(`http://127.0.0.1:${portOf(env.get('FLEETKEY_HTTP_LISTEN')!)}/healthz`);
    // The Deployment puts the data directory where the image does.
    expect(envValue(controllerPod().container, 'FLEETKEY_DATA_DIR')).toBe(dataDir);
  });

  it('the agent image runs the bundle its build stage makes, with the data directory and the socket directory in volumes', () => {
    const [build] = agentImage.stages;
    const final = finalStage(agentImage);
    const buildRuns = instructionsOf(build!, 'RUN').map((instruction) => instruction.args).join('\n');
    const manifest = JSON.parse(readText(join(REPO_ROOT, 'apps/edge-agent/package.json'))) as { name: string; scripts: Record<string, string> };
    expect(manifest.scripts['build']).toBeDefined();
    expect(buildRuns).toContain(`npm run build -w ${manifest.name}`);
    expect(buildRuns).toContain('cp apps/edge-agent/dist/edge-agent.mjs /out/dist/edge-agent.mjs');
    const copy = instructionsOf(final, 'COPY').map((instruction) => instruction.args);
    expect(copy).toEqual(['--from=build /out /opt/fleetkey/edge-agent']);
    const { entrypoint, cmd } = entrypointOf(final);
    expect(entrypoint).toEqual(['node', '/opt/fleetkey/edge-agent/dist/edge-agent.mjs']);
    expect(cmd).toEqual(['serve']);
    const env = stageEnv(final);
    for (const name of env.keys()) expect(new Set([...helpOf('edge-agent serve').env, ...PLATFORM_ENV]), `ENV ${name}`).toContain(name);
    const volumes = volumesOf(final);
    expect(volumes).toContain(posix.dirname(env.get('FLEETKEY_DATA_DIR')!));
    expect(env.get('FLEETKEY_DATA_DIR')).not.toBe(posix.dirname(env.get('FLEETKEY_DATA_DIR')!));
    const socketDir = posix.dirname(env.get('FLEETKEY_AGENT_SOCKET')!);
    expect(volumes).toContain(socketDir);
    const { uid, gid } = userOf(final);
    const runs = instructionsOf(final, 'RUN').map((instruction) => instruction.args).join('\n');
    // Each volume directory exists in the image, owned by the agent user, closed to other users.
    for (const dir of volumes) expect(runs, `${dir} is made for the agent user`).toMatch(new RegExp(`install -d -o ${uid} -g ${gid} -m 07[0-7]0 ${dir}(\\s|$)`));
    const exposed = instructionsOf(final, 'EXPOSE').flatMap((instruction) => instruction.args.split(/\s+/)).map(Number);
    expect(exposed).toEqual([portOf(env.get('FLEETKEY_PEER_LISTEN')!)]);
    // The same socket path as the systemd deployment's agent.json.
    expect(env.get('FLEETKEY_AGENT_SOCKET')).toBe(agentConfig['socket']);
  });

  it('no image carries a secret: no secret-named ARG or ENV, no secret literal, and host node_modules stay out of the build context', async () => {
    for (const image of [controllerImage, agentImage]) {
      const names = [...image.globalArgs.keys(), ...image.stages.flatMap((stage) => [...stageArgs(stage).keys(), ...stageEnv(stage).keys()])];
      for (const name of names) expect(SECRET_NAME.test(name), `${name}`).toBe(false);
    }
    for (const name of ['controller.Dockerfile', 'edge-agent.Dockerfile']) {
      const ignore = (await readFile(join(DOCKER_DIR, `${name}.dockerignore`), 'utf8')).split('\n').map((line) => line.trim());
      expect(ignore).toContain('**/node_modules');
      expect(ignore).toContain('.git');
    }
  });

  it("the agent image's runtime packages are exactly what the SQLite addon loads at run time", () => {
    const packages = stageArgs(agentImage.stages[0]!).get('RUNTIME_PACKAGES')!.split(/\s+/).sort();
    expect(packages).toEqual(runtimeClosure('better-sqlite3-multiple-ciphers'));
  });

  it("the agent image's runtime layout, made by the Dockerfile's own step, starts and loads the SQLite addon from itself alone", async () => {
    const [build] = agentImage.stages;
    const step = instructionsOf(build!, 'RUN').find((instruction) => instruction.args.includes('/out'));
    expect(step).toBeDefined();
    const src = join(scratch, 'src');
    const out = join(scratch, 'out');
    // The build stage's /src as far as the step reads it: the bundle, the agent's manifest, and
    // hard links to the packages (the step only copies and deletes, so the originals are safe).
    await mkdir(join(src, 'apps/edge-agent/dist'), { recursive: true });
    await mkdir(join(src, 'node_modules'), { recursive: true });
    const built = await runNode(['apps/edge-agent/scripts/build.mjs', join(src, 'apps/edge-agent/dist/edge-agent.mjs')]);
    expect(built.code, built.stderr).toBe(0);
    await copyFile(join(REPO_ROOT, 'apps/edge-agent/package.json'), join(src, 'apps/edge-agent/package.json'));
    const packages = stageArgs(build!).get('RUNTIME_PACKAGES')!;
    for (const name of packages.split(/\s+/)) await run('cp', ['-al', join(REPO_ROOT, 'node_modules', name), join(src, 'node_modules', name)]);
    await run('sh', ['-euc', step!.args.replaceAll('/out', out)], { cwd: src, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', RUNTIME_PACKAGES: packages } });
    // The final stage copies /out to /opt/fleetkey/edge-agent and runs dist/edge-agent.mjs there.
    const bundle = join(out, 'dist/edge-agent.mjs');
    const version = await runNode([bundle, '--version'], { cwd: scratch });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readText(join(REPO_ROOT, 'apps/edge-agent/package.json'))) as { version: string }).version);
    const probe = [
      "import { createRequire } from 'node:module';",
      'const require = createRequire(process.argv[1]);',
      "const Database = require('better-sqlite3-multiple-ciphers');",
      "const row = new Database(':memory:').prepare('select 1 as one').get();",
      "const loaded = Object.keys(require.cache).filter((file) => file.includes('node_modules'));",
      'process.stdout.write(JSON.stringify({ row, loaded }));',
    ].join('\n');
    const loaded = await runNode(['--input-type=module', '-e', probe, bundle], { cwd: scratch });
    expect(loaded.code, loaded.stderr).toBe(0);
    const result = JSON.parse(loaded.stdout) as { row: unknown; loaded: string[] };
    expect(result.row).toEqual({ one: 1 });
    const root = await realpath(out);
    expect(result.loaded.length).toBeGreaterThan(0);
    // Nothing came from the repository's node_modules: the layout is complete on its own.
    for (const file of result.loaded) expect(isInside(await realpath(file), root), file).toBe(true);
    expect(existsSync(join(out, 'node_modules/better-sqlite3-multiple-ciphers/deps')), 'C sources left in the image').toBe(false);
  });
});

describe('systemd unit', () => {
  it('is hardened as required, and leaves MemoryDenyWriteExecute off (V8 writes and then runs JIT code)', () => {
    const service = (key: string): string | undefined => lastValue(unit, 'Service', key);
    expect(service('User')).toBe('fleetkey-agent');
    expect(service('NoNewPrivileges')).toBe('yes');
    expect(service('ProtectSystem')).toBe('strict');
    expect(service('ProtectHome')).toBe('yes');
    expect(service('PrivateTmp')).toBe('yes');
    expect(service('Restart')).toBe('on-failure');
    // Every assignment empty: no capability at all (a non-empty one would add to the set).
    expect(valuesOf(unit, 'Service', 'CapabilityBoundingSet')).toEqual(['']);
    expect(valuesOf(unit, 'Service', 'AmbientCapabilities').every((value) => value === '')).toBe(true);
    expect(valuesOf(unit, 'Service', 'RestrictAddressFamilies').map((value) => value.split(/\s+/).sort())).toEqual([['AF_INET', 'AF_INET6', 'AF_UNIX']]);
    expect(valuesOf(unit, 'Service', 'MemoryDenyWriteExecute')).toEqual([]);
    expect(valuesOf(unit, 'Service', 'DynamicUser')).toEqual([]);
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('ExecStart runs the image layout’s bundle with real flags, its data directory in StateDirectory and ReadWritePaths', () => {
    const exec = valuesOf(unit, 'Service', 'ExecStart');
    expect(exec).toHaveLength(1);
    const words = splitCommandLine(exec[0]!);
    const agentCopy = instructionsOf(finalStage(agentImage), 'COPY')[0]!.args.split(/\s+/).at(-1)!;
    const { entrypoint } = entrypointOf(finalStage(agentImage));
    expect(words.slice(0, 3)).toEqual(['/usr/bin/node', entrypoint[1], 'serve']);
    expect(isInside(words[1]!, agentCopy)).toBe(true);
    const serveHelp = helpOf('edge-agent serve');
    for (const flag of flagsIn(words)) expect(serveHelp.flags, flag).toContain(flag);
    for (const name of environmentOf(unit).keys()) expect(serveHelp.env, name).toContain(name);
    const valueOf = (flag: string): string | undefined => {
      const index = words.indexOf(flag);
      return index < 0 ? undefined : words[index + 1];
    };
    const dataDir = valueOf('--data-dir')!;
    const stateDirs = valuesOf(unit, 'Service', 'StateDirectory').flatMap((value) => value.split(/\s+/)).map((dir) => `/var/lib/${dir}`);
    // Strictly inside: provision renames a sibling staging directory onto it.
    expect(stateDirs.some((dir) => isInside(dataDir, dir) && dataDir !== dir)).toBe(true);
    const writable = valuesOf(unit, 'Service', 'ReadWritePaths').flatMap((value) => value.split(/\s+/)).map((path) => path.replace(/^[-+]/, ''));
    expect(writable.some((path) => isInside(dataDir, path))).toBe(true);
    expect(lastValue(unit, 'Service', 'StateDirectoryMode')).toBe('0700');
    expect(valueOf('--config')).toBe('/etc/fleetkey/agent.json');
    // The socket comes from agent.json alone; a --socket flag would override it.
    expect(valueOf('--socket')).toBeUndefined();
  });

  it("agent.json's socket is inside RuntimeDirectory, and its socketGid is the unit's Group as sysusers.d creates it", () => {
    const runtime = valuesOf(unit, 'Service', 'RuntimeDirectory').flatMap((value) => value.split(/\s+/));
    expect(runtime).toHaveLength(1);
    const socket = stringAt(agentConfig, 'socket');
    expect(posix.dirname(socket)).toBe(`/run/${runtime[0]}`);
    const sysusers = readText(join(SYSTEMD_DIR, 'fleetkey-agent.sysusers'))
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
      .map((line) => line.trim().match(/"[^"]*"|\S+/g)!);
    const group = lastValue(unit, 'Service', 'Group')!;
    const groupLine = sysusers.find((fields) => fields[0] === 'g' && fields[1] === group);
    expect(groupLine, `sysusers creates group ${group}`).toBeDefined();
    expect(agentConfig['socketGid']).toBe(Number(groupLine![2]));
    const userLine = sysusers.find((fields) => fields[0] === 'u' && fields[1] === lastValue(unit, 'Service', 'User'));
    expect(userLine?.[2]).toBe(`-:${group}`);
    // The socket's directory admits the group only; the socket mode never admits other users.
    expect(lastValue(unit, 'Service', 'RuntimeDirectoryMode')).toBe('0750');
    expect(Number.parseInt(stringAt(agentConfig, 'socketMode'), 8) & 0o007).toBe(0);
  });

  it('the unit parser refuses what it cannot read', () => {
    expect(() => parseUnit('User=x\n')).toThrow(/outside a section/);
    expect(() => parseUnit('[Service]\nNoEquals\n')).toThrow(/Key=value/);
    expect(() => parseUnit('[Service]\nExecStart=/bin/a \\')).toThrow(/continued/);
    expect(parseUnit('[Service]\nExecStart=/bin/a \\\n  --b\n').get('Service')?.get('ExecStart')).toEqual(['/bin/a --b']);
    expect(() => splitCommandLine('/bin/a $HOME')).toThrow(/expansion/);
    expect(splitCommandLine('/bin/a "b c" d')).toEqual(['/bin/a', 'b c', 'd']);
  });
});

describe('the example configurations pass the binaries’ own config rules', () => {
  it('agent.json: `edge-agent serve` gets past the config file to the missing data directory, and a broken copy does not', async () => {
    const broken = join(scratch, 'agent-broken.json');
    await writeFile(broken, JSON.stringify({ ...agentConfig, socketMode: '0666' }));
    const missing = join(scratch, 'no-such-agent-dir');
    const [good, bad] = await Promise.all([
      runBinary('edge-agent', ['serve', '--config', join(SYSTEMD_DIR, 'agent.json'), '--data-dir', missing]),
      runBinary('edge-agent', ['serve', '--config', broken, '--data-dir', missing]),
    ]);
    expect(good.code).not.toBe(0);
    expect(good.stderr).toContain(`${missing} holds no provisioned agent`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--socket-mode must not give other users access');
    expect(bad.stderr).not.toContain('holds no provisioned agent');
  });

  it('serve.json: `fleet-controller serve` gets past the config file to the missing data directory, and a broken copy does not', async () => {
    const serve = serveConfigOf();
    const good = join(scratch, 'serve.json');
    const broken = join(scratch, 'serve-broken.json');
    await writeFile(good, JSON.stringify(serve));
    await writeFile(broken, JSON.stringify({ ...serve, grpcListen: serve['listen'] }));
    const missing = join(scratch, 'no-such-controller-dir');
    const [ok, bad] = await Promise.all([runBinary('fleet-controller', ['serve', '--config', good, '--data-dir', missing]), runBinary('fleet-controller', ['serve', '--config', broken, '--data-dir', missing])]);
    expect(ok.code).not.toBe(0);
    expect(ok.stderr).toContain(`${missing} is not a fleet-controller data directory`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`${broken}:`);
    expect(bad.stderr).not.toContain('is not a fleet-controller data directory');
  });
});

describe('command lines in deploy/ and docs/deployment.md', () => {
  it('use only flags the binaries list in their help', async () => {
    const invocations = [...(await deployFiles()), DEPLOYMENT_DOC].flatMap((file) => invocationsIn(readText(file), file.slice(REPO_ROOT.length)));
    // The guide and the init pod run these; finding none means the scan is broken.
    expect(invocations.map((item) => `${item.binary} ${item.command}`)).toEqual(expect.arrayContaining(['fleet-controller init', 'edge-agent provision', 'edge-agent serve']));
    for (const invocation of invocations) {
      const options = helpOf(`${invocation.binary} ${invocation.command}`);
      for (const flag of flagsIn(invocation.words)) expect(options.flags, `${invocation.where}: ${invocation.binary} ${invocation.command} ${flag}`).toContain(flag);
    }
  });

  it('the help reader refuses a help text it does not understand', () => {
    expect(() => parseHelp('Usage: x\n')).toThrow(/Options/);
    expect(parseHelp('Options:\n  --data-dir <dir>  the dir (env:\n                   FLEETKEY_DATA_DIR)\n  -o, --output <f>  out\n  -h, --help  help\n')).toEqual({
      flags: new Set(['--data-dir', '--output', '--help']),
      env: new Set(['FLEETKEY_DATA_DIR']),
    });
  });

  it('README links the deployment guide', () => {
    expect(readText(join(REPO_ROOT, 'README.md'))).toContain('[docs/deployment.md](docs/deployment.md)');
  });
});
