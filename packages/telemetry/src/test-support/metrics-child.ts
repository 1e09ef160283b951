// A child process for child-process-metrics.test.ts, forked with child_process.fork or started as
// a node:cluster worker: it reports its registry to its parent as the services' processes do, and
// does what the parent tells it over IPC.
import cluster from 'node:cluster';
import { Counter, Gauge } from 'prom-client';
import { createRegistry } from '../registry.ts';
import { clusterScrape, reportMetricsToParent } from '../report-metrics.ts';

export type ChildCommand = { readonly cmd: 'count'; readonly n: number } | { readonly cmd: 'hang'; readonly ms: number } | { readonly cmd: 'scrape' };
export type ChildReply = { readonly cmd: 'counted' } | { readonly cmd: 'scraped'; readonly body: string };

const registry = createRegistry({ defaultLabels: { child: process.env.METRICS_CHILD_LABEL ?? 'unnamed' } });
const counted = new Counter({ name: 'test_counted_total', help: 'Counted on command.', registers: [registry] });
const inFlight = new Gauge({ name: 'test_in_flight', help: 'The last count.', registers: [registry] });
const scrape = cluster.isWorker ? clusterScrape(registry) : undefined;
if (!cluster.isWorker) reportMetricsToParent(registry);

const reply = (message: ChildReply) => process.send?.(message);

process.on('message', (message: unknown) => {
  const command = message as Partial<ChildCommand>;
  if (command.cmd === 'count') {
    counted.inc(command.n);
    inFlight.set(command.n ?? 0);
    reply({ cmd: 'counted' });
  } else if (command.cmd === 'hang') {
    // A busy event loop, as an engine process's synchronous engine call makes: it answers nothing.
    const until = Date.now() + (command.ms ?? 0);
    while (Date.now() < until);
  } else if (command.cmd === 'scrape') {
    void scrape?.().then((answer) => reply({ cmd: 'scraped', body: answer.body }));
  }
});
