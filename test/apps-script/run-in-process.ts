import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppsScriptState, RunResult } from './apps-script-fakes';
import type { RunRequest } from './apps-script-process';

const RUNNER = fileURLToPath(new URL('./apps-script-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs an Apps Script function in a child node (tsx) whose UrlFetchApp does real HTTP; the test process
 * stays free to serve the ingress meanwhile.
 */
export async function runAppsScriptInChild(codePath: string, state: AppsScriptState, fn: string): Promise<RunResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const request: RunRequest = { codePath, state, fn };
  child.stdin.end(JSON.stringify(request));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`apps script runner exited with ${code}: ${Buffer.concat(err).toString('utf8')}`);
  return JSON.parse(Buffer.concat(out).toString('utf8')) as RunResult;
}
