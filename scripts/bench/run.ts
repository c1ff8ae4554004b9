// npm run bench — prints figures; never asserts on timing (CI does not run it).
// Starts its own redis-server (the bench fills Redis), then, each section skippable with --skip-<name>:
//  throughput  our ingress vs a bare `queue.add` endpoint, same load, alternating rounds → ratio
//  e2e         end-to-end latency (POST → webhook on a loopback sink) at fixed rates (--rates=100,500,1000),
//              against bare one-stage and two-stage BullMQ pipelines; the built bundles run (built first)
//  sustain     highest rate held for --sustain-seconds with p99 < 100 ms
//  scaling     delivered/s with 1, 2 and 4 worker processes against a 50 ms sink
//  memory      RSS of API and worker over --memory-emails emails
//  offload     direct-mode transfer of 200 MiB: MB/s and RSS ceiling vs the raw SDK Upload
//  journeys    cost of recording an email's journey: client and Redis CPU, Redis memory per email
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { startRedisServer, removeRedisDir } from '../../test/helpers/redis-server';
import { formatStages } from './stages';
import { endToEnd, formatEndToEnd, highestSustainedRate, PIPELINES, type EndToEndResult, type Pipeline } from './e2e';
import { emailBody, firstJsonLine, killAll, spawnNode, TOKEN } from './harness';
import { benchJourneys } from './journeys';
import { benchMemory } from './memory';
import { benchOffload } from './offload';
import { benchWorkerScaling } from './scaling';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const THROUGHPUT_SECONDS = Number(args.get('duration') ?? 10);
const E2E_SECONDS = Number(args.get('e2e-duration') ?? 20);
const E2E_WORKERS = Number(args.get('e2e-workers') ?? 1);
const E2E_ROUNDS = Number(args.get('e2e-rounds') ?? 3);
const E2E_RATES = (args.get('rates') ?? '100,250,500,1000').split(',').map(Number);
const SUSTAIN_SECONDS = Number(args.get('sustain-seconds') ?? 60);
const SUSTAIN_RATES = (args.get('sustain-rates') ?? '100,200,300,400,500,750,1000').split(',').map(Number);
const MEMORY_EMAILS = Number(args.get('memory-emails') ?? 100_000);
const SCALING_EMAILS = Number(args.get('scaling-emails') ?? 4_000);
const JOURNEY_EMAILS = Number(args.get('journey-emails') ?? 20_000);
const JOURNEY_BATCH = Number(args.get('journey-batch') ?? 50);

async function loadTest(url: string): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/api/ingress/gmail`,
    connections: 50,
    duration: THROUGHPUT_SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        setupRequest: (req) => ({ ...req, body: emailBody() }),
      },
    ],
  });
}

const ROUNDS = Number(args.get('rounds') ?? 3);

async function throughput(redisUrl: string): Promise<void> {
  // Alternate baseline and ingress rounds so machine noise hits both alike; report the median round.
  const runs: Record<'bare' | 'ingress', autocannon.Result[]> = { bare: [], ingress: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['bare', 'ingress'] as const) {
      const server = spawnNode('scripts/bench/bench-server.ts', [kind, redisUrl, `bench-${kind}-${Date.now()}`]);
      const { port } = await firstJsonLine<{ port: number }>(server, (o) => typeof o.port === 'number');
      const url = `http://127.0.0.1:${port}`;
      await autocannon({
        url: `${url}/api/ingress/gmail`,
        connections: 10,
        amount: 1000,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: emailBody(),
      }); // warm-up
      runs[kind].push(await loadTest(url));
      server.kill('SIGTERM');
    }
  }
  const median = (list: autocannon.Result[]) =>
    [...list].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(list.length / 2)]!;
  const bare = median(runs.bare);
  const ours = median(runs.ingress);
  const row = (name: string, r: autocannon.Result) =>
    `${name.padEnd(28)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
  console.log(
    `\n## Ingress throughput (median of ${ROUNDS} alternating rounds, ${THROUGHPUT_SECONDS}s each, 50 connections, unique emails)`,
  );
  console.log(
    `rounds (req/s): baseline ${runs.bare.map((r) => r.requests.average.toFixed(0)).join(', ')}; ingress ${runs.ingress.map((r) => r.requests.average.toFixed(0)).join(', ')}`,
  );
  console.log(row('baseline: bare queue.add', bare));
  console.log(row('render-signal ingress', ours));
  console.log(`ratio ingress / baseline: ${(ours.requests.average / bare.requests.average).toFixed(2)}`);
}

async function main(): Promise<void> {
  // The pipeline runs as users run it: the built bundles (npm run start:api / start:worker).
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const redis = await startRedisServer();
  console.log(`# Render Signal benchmark — node ${process.version}, redis on port ${redis.port}, ${new Date().toISOString()}`);
  try {
    if (!args.has('skip-throughput')) await throughput(redis.url);
    if (!args.has('skip-e2e')) {
      console.log(`\n## End-to-end latency (POST → webhook received on a loopback sink; 1 API + 1 worker process)`);
      console.log(
        `baselines at each rate, same sink, same machine, a bare queue.add endpoint and got: "bare" = one BullMQ job per email; ` +
          `"two-stage" = our design's shape (an email job adding a delivery job), none of our code. ` +
          `${E2E_ROUNDS} alternating rounds, the round with the median p99 reported; ratios are against "bare"`,
      );
      for (const rate of E2E_RATES) {
        const rounds: Record<Pipeline, EndToEndResult[]> = { bare: [], 'two-stage': [], 'render-signal': [] };
        for (let round = 0; round < E2E_ROUNDS; round++) {
          for (const pipeline of PIPELINES)
            rounds[pipeline].push(await endToEnd(redis.url, rate, E2E_SECONDS, redis.process.pid, pipeline, E2E_WORKERS));
        }
        const medianRound = (list: EndToEndResult[]) => [...list].sort((a, b) => a.p99 - b.p99)[Math.floor(list.length / 2)]!;
        const p99s = (list: EndToEndResult[]) => list.map((r) => r.p99.toFixed(0)).join(', ');
        console.log(`rounds p99 (ms): ${PIPELINES.map((p) => `${p} ${p99s(rounds[p])}`).join('; ')}`);
        const bare = medianRound(rounds.bare);
        const cpu = (r: EndToEndResult) => r.cpuPerEmail.api + r.cpuPerEmail.worker + r.cpuPerEmail.redis;
        for (const pipeline of PIPELINES) {
          const result = medianRound(rounds[pipeline]);
          console.log(`${pipeline.padEnd(13)} ${formatEndToEnd(result, E2E_SECONDS)}`);
          console.log(formatStages(result.stages));
          if (pipeline !== 'bare') {
            console.log(
              `        ratio ${pipeline} / bare: p50 ${(result.p50 / bare.p50).toFixed(2)}   p99 ${(result.p99 / bare.p99).toFixed(2)}   ` +
                `CPU per email (api + worker + redis) ${(cpu(result) / cpu(bare)).toFixed(2)}`,
            );
          }
        }
      }
    }
    if (!args.has('skip-sustain'))
      await highestSustainedRate(redis.url, {
        rates: SUSTAIN_RATES,
        seconds: SUSTAIN_SECONDS,
        p99BoundMs: 100,
        redisPid: redis.process.pid,
      });
    if (!args.has('skip-scaling'))
      await benchWorkerScaling(redis.url, { emails: SCALING_EMAILS, processes: [1, 2, 4], sinkDelayMs: 50, concurrency: 10 });
    if (!args.has('skip-memory')) await benchMemory(redis.url, { emails: MEMORY_EMAILS, samples: 10 });
    // File offload, direct mode: MB/s and RSS ceiling of a 200 MiB transfer vs the raw SDK Upload (scripts/bench/offload.ts).
    if (!args.has('skip-offload')) await benchOffload();
    if (!args.has('skip-journeys')) await benchJourneys(redis.url, { emails: JOURNEY_EMAILS, batch: JOURNEY_BATCH });
  } finally {
    killAll();
    await removeRedisDir(redis);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    killAll();
    process.exit(1);
  },
);
