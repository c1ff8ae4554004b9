// Summarises a V8 CPU profile (.cpuprofile, from BENCH_CPU_PROF): self time per function and per area.
// Usage: node --import tsx scripts/bench/profile-summary.ts <file.cpuprofile> [top=20] [emails]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg, emailsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [top] [emails]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

/** A built bundle's modules by first line: esbuild writes `// packages/x/src/y.ts` before each one. */
const bundleModules = new Map<string, Array<[number, string]>>();
function bundleModule(url: string, line: number): string | undefined {
  if (!url.endsWith('/dist/main.js')) return undefined;
  let starts = bundleModules.get(url);
  if (!starts) {
    starts = [];
    readFileSync(new URL(url), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        const match = /^\/\/ ((?:packages|apps)\/[^/]+)\/src\/(\S+)\.ts$/.exec(text);
        if (match) starts!.push([i, `${match[1]}/${match[2]!.split('/')[0]}`]);
      });
    bundleModules.set(url, starts);
  }
  let found: string | undefined;
  for (const [start, name] of starts) if (start <= line) found = name;
  return found;
}

/** Which part of the process a frame belongs to. */
function area(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  const ours = bundleModule(url, node.callFrame.lineNumber);
  if (ours) return ours.replace(/\/[^/]+$/, '');
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(idle)' || functionName === '(program)') return functionName;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('apps/worker/dist') || url.includes('apps/api/dist')) return 'bundle (ours + bundled deps)';
  if (url.startsWith('node:')) return 'node core';
  return url ? 'other' : '(native)';
}

let total = 0;
const perFunction = new Map<string, number>();
const perArea = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  total += us;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
  perFunction.set(key, (perFunction.get(key) ?? 0) + us);
  const a = area(node);
  perArea.set(a, (perArea.get(a) ?? 0) + us);
}
const busy = total - (perArea.get('(idle)') ?? 0);
const top = Number(topArg ?? 20);
const emails = Number(emailsArg ?? 0);
console.log(
  `profile ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy${emails ? `, ${(busy / 1e3 / emails).toFixed(3)} ms busy per email` : ''}`,
);
console.log('\nself time by area (share of busy time):');
for (const [a, us] of [...perArea]
  .filter(([a]) => a !== '(idle)')
  .sort((x, y) => y[1] - x[1])
  .slice(0, 15))
  console.log(`  ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${a}`);
console.log(`\ntop ${top} functions by self time:`);
for (const [name, us] of [...perFunction]
  .filter(([n]) => !n.startsWith('(idle)'))
  .sort((x, y) => y[1] - x[1])
  .slice(0, top))
  console.log(`  ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${name}`);
