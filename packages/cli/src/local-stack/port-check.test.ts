import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:net';
import { test } from 'node:test';
import { LocalStackError } from './local-stack-error.ts';
import { checkPortsFree } from './port-check.ts';

/** Servers holding `count` free ports on 127.0.0.1, and those ports. */
async function holdPorts(count: number): Promise<{ ports: number[]; release: () => Promise<void> }> {
  const servers: Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
    servers.push(server);
  }
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  return { ports, release: () => Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined) };
}

const refusal = (message: string) => (error: unknown) => error instanceof LocalStackError && error.code === 'PORT_IN_USE' && error.message === message;

test('checkPortsFree names every port in use at once, not one a run', async () => {
  const held = await holdPorts(2);
  const [ingest, review] = held.ports as [number, number];
  try {
    const ports = [
      { variable: 'GRADCAM_INGEST_PORT', port: ingest },
      { variable: 'GRADCAM_REVIEW_PORT', port: review },
    ];
    await assert.rejects(
      checkPortsFree(ports),
      refusal(
        `GRADCAM_INGEST_PORT: 127.0.0.1:${ingest} is in use (another gradcam up, or another program); GRADCAM_REVIEW_PORT: 127.0.0.1:${review} is in use (another gradcam up, or another program); stop what holds them or set GRADCAM_INGEST_PORT, GRADCAM_REVIEW_PORT to free ports`,
      ),
    );
    await assert.rejects(checkPortsFree(ports.slice(1)), refusal(`GRADCAM_REVIEW_PORT: 127.0.0.1:${review} is in use (another gradcam up, or another program); stop what holds it or set GRADCAM_REVIEW_PORT to a free port`));
    await assert.rejects(checkPortsFree([...ports.slice(0, 1), { variable: 'GRADCAM_EXPORTER_PORT', port: ingest }]), refusal(`GRADCAM_EXPORTER_PORT: port ${ingest} is also GRADCAM_INGEST_PORT; each service needs its own port`));
  } finally {
    await held.release();
  }
  await checkPortsFree([{ variable: 'GRADCAM_INGEST_PORT', port: ingest }]);
});

test('a port that cannot be bound for another reason than being held says so, without "stop what holds it"', async () => {
  // An address this machine does not have: EADDRNOTAVAIL, whatever the port.
  await assert.rejects(checkPortsFree([{ variable: 'GRADCAM_REVIEW_PORT', port: 48_081 }], '10.255.255.1'), refusal('GRADCAM_REVIEW_PORT: 10.255.255.1:48081 cannot be used (EADDRNOTAVAIL); set GRADCAM_REVIEW_PORT to a free port'));
});
