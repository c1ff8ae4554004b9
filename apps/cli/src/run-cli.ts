import { EnvError } from '@render-signal/config';

/** Runs a CLI's main and exits with its code; configuration problems print the env list, others one line. */
export function runCli(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof EnvError ? error.message : `${name} failed: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
