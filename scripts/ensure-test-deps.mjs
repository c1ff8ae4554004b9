// First step of `npm test`: the suites need two system programs besides Node — redis-server (tests that
// stop, restart or fill Redis start their own) and Chromium (the dashboard is tested in a real browser).
// On Debian/Ubuntu they are installed when missing (as root, or with password-less sudo); elsewhere this
// says what to install and stops, rather than letting suites fail one by one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const missing = [];
if (!has('redis-server')) missing.push('redis-server');
if (!existsSync(chromiumPath)) missing.push('chromium');
if (missing.length === 0) process.exit(0);

const asRoot = process.getuid?.() === 0;
const sudo = !asRoot && has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (has('apt-get') && (asRoot || sudo)) {
  console.error(`installing ${missing.join(' and ')} (Debian packages) for the test suites…`);
  const run = (args) =>
    spawnSync(sudo ? 'sudo' : args[0], sudo ? args : args.slice(1), {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  if (run(['apt-get', 'update', '-qq']).status === 0 && run(['apt-get', 'install', '-y', '-qq', ...missing]).status === 0) process.exit(0);
}
console.error(
  `The test suites need ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed.\n` +
    `Install ${missing.length > 1 ? 'them' : 'it'} (Debian/Ubuntu: apt-get install ${missing.join(' ')})` +
    (missing.includes('chromium') ? ', or point CHROMIUM_PATH at a Chromium binary' : '') +
    ', then run npm test again.',
);
process.exit(1);
