import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import Ajv from 'ajv';
import {
  commandWords,
  composePath,
  dependenciesOf,
  environmentOf,
  loadCompose,
  readRepoFile,
  readYaml,
  repoPath,
  serviceOf,
} from './infra-files.ts';

const compose = loadCompose();

/** The variables packages/config reads, per service (issue brief; the exporter also reports the capture policy). */
const commonEnv = [
  'REDIS_URL',
  'GRADCAM_QUEUE_PREFIX',
  'LOG_LEVEL',
  'S3_ENDPOINT',
  'S3_REGION',
  'S3_BUCKET',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'S3_FORCE_PATH_STYLE',
  'S3_PUBLIC_ENDPOINT',
  'GRADCAM_STORAGE_PREFIX',
];
const allowedEnv: Record<string, readonly string[]> = {
  ingest: [...commonEnv, 'GRADCAM_INGEST_PORT', 'GRADCAM_API_TOKENS', 'GRADCAM_MAX_QUEUE_DEPTH', 'GRADCAM_CAPTURE_POLICY', 'GRADCAM_PUBLIC_URL', 'GRADCAM_INGEST_PROCESSES', 'GRADCAM_REFERENCE_PREFIXES'],
  worker: [
    ...commonEnv,
    'GRADCAM_WORKER_PROCESSES',
    'GRADCAM_BATCH_SIZE',
    'GRADCAM_BATCH_WAIT_MS',
    'GRADCAM_BACKEND',
    'GRADCAM_MODELS',
    'GRADCAM_WORKER_METRICS_PORT',
    'GRADCAM_REVIEW_POLICY',
    'GRADCAM_ENGINE_MAX_RSS_MB',
  ],
  review: [...commonEnv, 'GRADCAM_REVIEW_PORT', 'GRADCAM_REVIEW_TOKENS', 'GRADCAM_REVIEW_LEASE_SECONDS', 'GRADCAM_REVIEW_RETENTION_DAYS'],
  'metrics-exporter': [...commonEnv, 'GRADCAM_EXPORTER_PORT', 'GRADCAM_CAPTURE_POLICY'],
};
const pipelineServices = Object.keys(allowedEnv);
const requiredServices = ['redis', 'minio', 'minio-init', ...pipelineServices, 'prometheus', 'alertmanager', 'grafana'];

/** The Compose specification's JSON schema, as shipped by the `docker-compose` npm package (via testcontainers). */
const composeSchemaPath = 'node_modules/docker-compose/schema/compose-spec.json';

test('the compose file is valid against the Compose specification schema', () => {
  assert.ok(existsSync(repoPath(composeSchemaPath)), `${composeSchemaPath} is missing: run npm ci (it comes with testcontainers)`);
  const schema = JSON.parse(readFileSync(repoPath(composeSchemaPath), 'utf8')) as Record<string, unknown>;
  // The schema names draft-07 by an https URL ajv 6 does not know; it is plain draft-07.
  delete schema.$schema;
  const validate = new Ajv({ allErrors: true, unknownFormats: 'ignore' }).compile(schema);
  const valid = validate(readYaml(composePath));
  const errors = (validate.errors ?? []).map((e) => `${e.dataPath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  assert.ok(valid, `${composePath} does not follow the Compose schema:\n${errors.join('\n')}`);
});

test('has every service of the stack', () => {
  for (const name of requiredServices) assert.ok(compose.services[name], `missing service "${name}"`);
});

test('every build context and Dockerfile exists', () => {
  let builds = 0;
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build === undefined) {
      assert.ok(service.image, `${name}: neither build nor image`);
      continue;
    }
    builds += 1;
    const context = typeof service.build === 'string' ? service.build : (service.build.context ?? '.');
    const dockerfile = typeof service.build === 'string' ? 'Dockerfile' : (service.build.dockerfile ?? 'Dockerfile');
    assert.ok(statSync(repoPath(context)).isDirectory(), `${name}: build context ${context} is not a folder`);
    assert.ok(existsSync(repoPath(context, dockerfile)), `${name}: ${context}/${dockerfile} does not exist`);
  }
  assert.ok(builds >= 3, 'ingest, worker and metrics-exporter are built from this repository');
});

test('every bind-mounted host path exists and every named volume is declared', () => {
  const declared = new Set(Object.keys(compose.volumes ?? {}));
  for (const [name, service] of Object.entries(compose.services)) {
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? (volume.split(':')[0] ?? '') : (volume.source ?? '');
      const isBind = typeof volume === 'string' ? /^[./~]/.test(source) : volume.type === 'bind';
      if (isBind) assert.ok(existsSync(repoPath(source)), `${name}: mounted host path ${source} does not exist`);
      else assert.ok(declared.has(source), `${name}: named volume "${source}" is not declared under volumes:`);
    }
  }
});

// A floating tag (redis:7, latest) pulls whatever is newest when a host first starts the stack, so
// two hosts of one deployment can run different releases, and a rebuild changes what was tested.
test('every pulled image names one release, not a floating tag', () => {
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.image === undefined || service.build !== undefined || service.image.endsWith(':local')) continue;
    const tag = service.image.split(':')[1] ?? 'latest';
    assert.ok(tag !== 'latest' && /\d+\.\d+\.\d+|RELEASE\.\d{4}-/.test(tag), `${name}: ${service.image} is a floating tag; pin the release (major.minor.patch)`);
  }
});

test('redis keeps jobs: AOF on, noeviction, data on a volume, healthcheck', () => {
  const redis = serviceOf(compose, 'redis');
  assert.match(redis.image ?? '', /^redis:7(\b|[.-])/);
  const args = commandWords(redis.command).join(' ');
  assert.match(args, /--appendonly yes\b/);
  assert.match(args, /--maxmemory-policy noeviction\b/);
  assert.ok(
    (redis.volumes ?? []).some((v) => (typeof v === 'string' ? v.endsWith(':/data') : v.target === '/data')),
    'redis /data is on a volume',
  );
  assert.ok(redis.healthcheck?.test, 'redis has a healthcheck');
});

test('the worker reserves an NVIDIA GPU and runs the GPU image', () => {
  const worker = serviceOf(compose, 'worker');
  const devices = worker.deploy?.resources?.reservations?.devices ?? [];
  const gpu = devices.find((d) => d.driver === 'nvidia');
  assert.ok(gpu, 'worker: deploy.resources.reservations.devices has no nvidia device');
  assert.ok(gpu.capabilities?.includes('gpu'), 'the nvidia device asks for the gpu capability');
  assert.ok(gpu.count === 'all' || (typeof gpu.count === 'number' && gpu.count >= 1) || (gpu.device_ids?.length ?? 0) > 0, 'count 1+, all, or device_ids');
  assert.ok(typeof worker.build === 'object' && worker.build.dockerfile === 'infra/docker/worker-gpu.Dockerfile');
  assert.equal(environmentOf(worker).get('GRADCAM_BACKEND'), '${GRADCAM_BACKEND:-tensorflow-gpu}');
});

test('the worker has a memory limit, and its engine process drains at a ceiling under it', () => {
  const worker = serviceOf(compose, 'worker');
  const limit = /^\$\{WORKER_MEMORY_LIMIT:-(\d+)g\}$/.exec(String(worker.deploy?.resources?.limits?.memory ?? ''));
  assert.ok(limit, `worker: deploy.resources.limits.memory is ${worker.deploy?.resources?.limits?.memory}, not \${WORKER_MEMORY_LIMIT:-<N>g}`);
  const ceiling = /^\$\{GRADCAM_ENGINE_MAX_RSS_MB:-(\d+)\}$/.exec(environmentOf(worker).get('GRADCAM_ENGINE_MAX_RSS_MB') ?? '');
  assert.ok(ceiling, 'worker: GRADCAM_ENGINE_MAX_RSS_MB has a default');
  const processes = Number(/^\$\{GRADCAM_WORKER_PROCESSES:-(\d+)\}$/.exec(environmentOf(worker).get('GRADCAM_WORKER_PROCESSES') ?? '')?.[1]);
  // Each engine process at its ceiling, and the supervisor, inside the limit by default.
  assert.ok(processes * Number(ceiling[1]) < Number(limit[1]) * 1024, `${processes} × ${ceiling[1]} MB must stay under ${limit[1]} GB`);
});

test('pipeline services set only the variables packages/config reads', () => {
  for (const name of pipelineServices) {
    const allowed = new Set(allowedEnv[name]);
    const env = environmentOf(serviceOf(compose, name));
    for (const variable of env.keys()) assert.ok(allowed.has(variable), `${name}: ${variable} is not a variable the ${name} service reads`);
    for (const variable of ['REDIS_URL', 'S3_ENDPOINT', 'S3_BUCKET']) assert.ok(env.has(variable), `${name}: ${variable} is not set`);
  }
});

test('pipeline services run their workspace entry point: on the app image (Node 24) as it is, types stripped; the GPU worker (Node 20) through tsx', () => {
  for (const name of pipelineServices) {
    const words = commandWords(serviceOf(compose, name).command);
    const runner = name === 'worker' ? ['node', '--import', 'tsx'] : ['node'];
    assert.deepEqual(words, [...runner, `services/${name}/src/main.ts`], `${name}: command`);
    const manifest = JSON.parse(readRepoFile(`services/${name}/package.json`)) as { scripts?: Record<string, string> };
    assert.equal(manifest.scripts?.start, 'tsx src/main.ts', `services/${name}: the compose command runs what \`npm start\` runs`);
    assert.ok(existsSync(repoPath(`services/${name}/src/main.ts`)), `services/${name}/src/main.ts exists`);
  }
});

test('every dependency exists and its condition can be met', () => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [dependency, condition] of dependenciesOf(service)) {
      const target = compose.services[dependency];
      assert.ok(target, `${name} depends on unknown service "${dependency}"`);
      if (condition === 'service_healthy') assert.ok(target.healthcheck?.test, `${name} waits for ${dependency} to be healthy, but it has no healthcheck`);
      if (condition === 'service_completed_successfully') assert.equal(target.restart ?? 'no', 'no', `${dependency} is a one-shot: it must not restart`);
    }
  }
  for (const name of pipelineServices) {
    assert.equal(dependenciesOf(serviceOf(compose, name)).get('redis'), 'service_healthy', `${name} waits for a healthy redis`);
  }
  for (const name of ['ingest', 'worker']) {
    assert.equal(dependenciesOf(serviceOf(compose, name)).get('minio-init'), 'service_completed_successfully', `${name} waits for the bucket`);
  }
});

test('long-running services have healthchecks, and the files they run exist', () => {
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.restart === 'no') continue;
    assert.ok(service.healthcheck?.test && !service.healthcheck.disable, `${name} has no healthcheck`);
    for (const word of commandWords(service.healthcheck.test)) {
      if (/^(infra|scripts|services|packages)\//.test(word)) assert.ok(existsSync(repoPath(word)), `${name}: healthcheck runs ${word}, which does not exist`);
    }
  }
});

test('ingest, review and the worker are healthy once ready (/readyz), not merely alive: the worker only after its models load', () => {
  for (const [name, port] of [['ingest', 8080], ['review', 8081], ['worker', 9465]] as const) {
    const words = commandWords(serviceOf(compose, name).healthcheck?.test);
    assert.ok(words.includes(`http://127.0.0.1:${port}/readyz`), `${name}: healthcheck asks ${words.join(' ')}`);
  }
});

/** A published port's host address as Compose resolves it with no .env: `${VAR:-default}` → default. */
function publishedOn(entry: string): { address: string; port: string } {
  const resolved = entry.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, '$1');
  const parts = resolved.split(':');
  return { address: parts.length === 3 ? (parts[0] ?? '') : '0.0.0.0', port: parts.at(-1) ?? '' };
}

test('publishes ingest 8080 and review 8081 on every address, and the unauthenticated exporter 9464, Prometheus 9090, Alertmanager 9093, Grafana 3000 and MinIO only on loopback by default', () => {
  const published = (name: string) => (serviceOf(compose, name).ports ?? []).map(String).map(publishedOn);
  assert.deepEqual(published('ingest'), [{ address: '0.0.0.0', port: '8080' }]);
  assert.equal(environmentOf(serviceOf(compose, 'ingest')).get('GRADCAM_INGEST_PORT'), '8080');
  assert.deepEqual(published('review'), [{ address: '0.0.0.0', port: '8081' }]);
  assert.equal(environmentOf(serviceOf(compose, 'review')).get('GRADCAM_REVIEW_PORT'), '8081');
  // Prometheus runs with --web.enable-lifecycle: whoever reaches 9090 can POST /-/quit.
  assert.deepEqual(published('metrics-exporter'), [{ address: '127.0.0.1', port: '9464' }]);
  assert.equal(environmentOf(serviceOf(compose, 'metrics-exporter')).get('GRADCAM_EXPORTER_PORT'), '9464');
  assert.deepEqual(published('prometheus'), [{ address: '127.0.0.1', port: '9090' }]);
  assert.deepEqual(published('alertmanager'), [{ address: '127.0.0.1', port: '9093' }]);
  assert.deepEqual(published('grafana'), [{ address: '127.0.0.1', port: '3000' }]);
  assert.deepEqual(published('minio'), [{ address: '127.0.0.1', port: '9000' }, { address: '127.0.0.1', port: '9001' }]);
  assert.equal(serviceOf(compose, 'redis').ports, undefined, 'redis is not published');
});

test('the bucket minio-init creates is the one the services use, with the MinIO credentials', () => {
  const script = commandWords(serviceOf(compose, 'minio-init').command).join(' ');
  const minio = environmentOf(serviceOf(compose, 'minio'));
  for (const name of pipelineServices) {
    const env = environmentOf(serviceOf(compose, name));
    const bucket = env.get('S3_BUCKET') ?? '';
    assert.match(script, new RegExp(`mc mb --ignore-existing \\w+/${bucket}\\b`), `${name}: bucket ${bucket} is created by minio-init`);
    assert.equal(env.get('S3_ENDPOINT'), 'http://minio:9000');
    assert.equal(env.get('S3_FORCE_PATH_STYLE'), 'true', 'MinIO needs path-style URLs');
    assert.equal(env.get('S3_ACCESS_KEY_ID'), minio.get('MINIO_ROOT_USER'));
    assert.equal(env.get('S3_SECRET_ACCESS_KEY'), minio.get('MINIO_ROOT_PASSWORD'));
    assert.equal(env.get('REDIS_URL'), 'redis://redis:6379');
  }
});

test('ingest and the exporter see the same capture policy', () => {
  const ingest = environmentOf(serviceOf(compose, 'ingest')).get('GRADCAM_CAPTURE_POLICY');
  assert.ok(ingest);
  assert.equal(environmentOf(serviceOf(compose, 'metrics-exporter')).get('GRADCAM_CAPTURE_POLICY'), ingest);
});

test('every variable the compose file interpolates is documented in infra/compose.env.example', () => {
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const m of value.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) used.add(m[1] ?? '');
    } else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        visit(key);
        visit(child);
      }
    }
  };
  visit(readYaml(composePath));
  const documented = new Set([...readRepoFile('infra/compose.env.example').matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1] ?? ''));
  assert.ok(used.size > 0);
  for (const variable of used) assert.ok(documented.has(variable), `${variable} is not in infra/compose.env.example`);
  for (const variable of documented) assert.ok(used.has(variable), `infra/compose.env.example lists ${variable}, which the compose file does not read`);
});
