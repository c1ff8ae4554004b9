// Runs the whole system locally: API + worker (built code), a redis-server started here when REDIS_URL
// is unset, and a local webhook sink that prints what it receives when WEBHOOK_URL is unset.
// Stop with Ctrl-C. Usage: npm start   (after npm install)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const localDir = join(root, '.local');
mkdirSync(localDir, { recursive: true });
/** API and worker; Redis is kept apart: it stops last. */
const children = [];
let redisChild;

const freePort = () =>
  new Promise((resolve) => {
    const s = createTcpServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Secrets generated once and kept in .local/ so restarts keep the same token. */
function localSecret(name, make) {
  const file = join(localDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, value, { mode: 0o600 });
  return value;
}

async function startRedis() {
  if (spawnSync('redis-server', ['--version']).error) {
    console.error(
      'REDIS_URL is not set and redis-server is not installed.\n' +
        'Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL=redis://host:port',
    );
    process.exit(1);
  }
  const port = await freePort();
  const dir = join(localDir, 'redis');
  mkdirSync(dir, { recursive: true });
  // AOF on: what the API accepted survives a local restart, like production Redis should.
  // Its own process group: Ctrl-C reaches the API and worker, not Redis, which they still need while they
  // finish in-flight work; stop() ends it after them.
  redisChild = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  for (let i = 0; i < 100; i++) {
    const probe = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (probe.stdout?.trim() === 'PONG') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`[local] redis-server started on 127.0.0.1:${port} (data in .local/redis)`);
  return `redis://127.0.0.1:${port}`;
}

async function startSink() {
  const port = await freePort();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let subject = '';
      try {
        subject = JSON.parse(body).subject;
      } catch {
        subject = '(not JSON)';
      }
      console.log(`[sink] webhook ${req.headers['webhook-id']} received (${body.length} bytes) subject=${JSON.stringify(subject)}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  console.log(`[local] webhook sink listening on http://127.0.0.1:${port}/hook (set WEBHOOK_URL to use your own)`);
  return { url: `http://127.0.0.1:${port}/hook`, server };
}

const env = { ...process.env };
if (!env.REDIS_URL) env.REDIS_URL = await startRedis();
let sink;
if (!env.WEBHOOK_URL) {
  sink = await startSink();
  env.WEBHOOK_URL = sink.url;
  // The local sink is on loopback: only allowed with private networking on (never in production).
  env.ALLOW_PRIVATE_NETWORK ??= 'true';
}
env.PROCESS_API_TOKEN ??= localSecret('process-api-token', () => `local-${randomBytes(12).toString('hex')}`);
env.SECRET_KEY ??= env.FLASK_SECRET_KEY ?? localSecret('secret-key', () => randomBytes(32).toString('hex'));
env.WEBHOOK_SECRET ??= localSecret('webhook-secret', () => `whsec_${randomBytes(24).toString('base64')}`);
env.TRIGGER_PAGE_PASSWORD ??= localSecret('dashboard-password', () => randomBytes(9).toString('base64url'));
env.PORT ??= '3000';
env.QUEUE_PREFIX ??= 'rs-local';

const run = (name, file) => {
  const child = spawn(process.execPath, [join(root, file)], { env, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[local] ${name} exited (${signal ?? code}); stopping`);
      void stop(1);
    }
  });
  children.push(child);
};
run('api', 'apps/api/dist/main.js');
run('worker', 'apps/worker/dist/main.js');

/** SIGTERM, then SIGKILL if the process is still there after `ms`. */
function terminate(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // API and worker first (the worker's shutdown is bounded by SHUTDOWN_TIMEOUT, 25 s by default), then Redis.
  await Promise.all(children.map((child) => terminate(child, 35_000)));
  sink?.server.close();
  if (redisChild) await terminate(redisChild, 5_000);
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

setTimeout(() => {
  console.log(`
[local] Render Signal is running: API on http://127.0.0.1:${env.PORT}
[local] Dashboard: http://127.0.0.1:${env.PORT}/dashboard (password: ${env.TRIGGER_PAGE_PASSWORD})
[local] Try it:
curl -s -X POST http://127.0.0.1:${env.PORT}/api/ingress/gmail \\
  -H 'Authorization: Bearer ${env.PROCESS_API_TOKEN}' -H 'Content-Type: application/json' \\
  -d '{"subject":"Hello","sender":"Alice <alice@example.org>","date":"2026-02-04T10:30:00Z","body":"<p>Voici le lien : https://www.dropbox.com/s/abc123/file.zip</p>"}'
[local] Ctrl-C stops everything.`);
}, 1500);
