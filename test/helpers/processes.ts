import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(new URL('.', import.meta.url).pathname, '../..');

export interface AppProcess {
  child: ChildProcess;
  /** Every JSON log line the process printed. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote to stderr so far (start-up refusals are printed there). */
  stderr(): string;
  waitForEvent(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs an app's main.ts from source (tsx) as a real OS process with the given environment. */
export function spawnApp(app: 'api' | 'worker', env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, `apps/${app}/src/main.ts`)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    exited,
    stderr: () => stderr,
    async waitForEvent(event, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find((l) => l.event === event);
        if (hit) return hit;
        if (child.exitCode !== null) throw new Error(`${app} exited before ${event}: ${stderr.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${app} did not log ${event} within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
