/**
 * How strong a secret must be. Pure: the env schemas call it (production refuses a weak value at start),
 * and the apps log the same findings as warnings outside production. The original accepted shorter values
 * (docs/migration.md).
 */

/** Paste-ready command printed with every finding. */
export const SECRET_GENERATION_COMMAND = 'openssl rand -hex 32';

export const SECRET_MINIMUMS = {
  /** Signs sessions and magic links (HS256): an offline guess must be out of reach. */
  SECRET_KEY: 32,
  /** Each ingress bearer token (PROCESS_API_TOKEN) and the METRICS_TOKEN. */
  TOKEN: 24,
  /** A plain TRIGGER_PAGE_PASSWORD (a werkzeug hash is accepted as is). */
  PASSWORD: 12,
} as const;

/** The original's rule: a configured password containing `$` and at least 20 characters long is a werkzeug hash. */
export function isWerkzeugHash(value: string): boolean {
  return value.includes('$') && value.length >= 20;
}

/**
 * "Trivially repetitive": one short unit repeated (`aaaa…`, `abcabc…`, `1234512345…`) or hardly any
 * distinct characters. A random hex or base64 value of the required length never is.
 */
export function isTriviallyRepetitive(value: string): boolean {
  if (new Set(value).size < 8) return true;
  for (let period = 1; period <= value.length / 2; period++) {
    let repeats = true;
    for (let i = period; i < value.length && repeats; i++) repeats = value[i] === value[i - period];
    if (repeats) return true;
  }
  return false;
}

export interface SecretFinding {
  /** The env variable to change. */
  variable: string;
  message: string;
}

export interface SecretInputs {
  SECRET_KEY?: string | undefined;
  PROCESS_API_TOKEN?: readonly string[] | undefined;
  TRIGGER_PAGE_PASSWORD?: string | undefined;
  METRICS_TOKEN?: string | undefined;
}

const fix = `generate one with \`${SECRET_GENERATION_COMMAND}\``;

/** Every weak secret among the given settings (unset ones are not judged here: their own rules apply). */
export function weakSecretFindings(env: SecretInputs): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const key = env.SECRET_KEY;
  if (key !== undefined) {
    if (key.length < SECRET_MINIMUMS.SECRET_KEY)
      findings.push({
        variable: 'SECRET_KEY',
        message: `is too weak: ${key.length} characters, at least ${SECRET_MINIMUMS.SECRET_KEY} needed; ${fix}`,
      });
    else if (isTriviallyRepetitive(key))
      findings.push({ variable: 'SECRET_KEY', message: `is too weak: it repeats a few characters; ${fix}` });
  }
  (env.PROCESS_API_TOKEN ?? []).forEach((token, index) => {
    const which = (env.PROCESS_API_TOKEN?.length ?? 0) > 1 ? ` (token #${index + 1})` : '';
    if (token.length < SECRET_MINIMUMS.TOKEN)
      findings.push({
        variable: 'PROCESS_API_TOKEN',
        message: `is too weak${which}: ${token.length} characters, each token needs at least ${SECRET_MINIMUMS.TOKEN}; ${fix}`,
      });
    else if (isTriviallyRepetitive(token))
      findings.push({ variable: 'PROCESS_API_TOKEN', message: `is too weak${which}: it repeats a few characters; ${fix}` });
  });
  const password = env.TRIGGER_PAGE_PASSWORD;
  if (password !== undefined && !isWerkzeugHash(password) && password.length < SECRET_MINIMUMS.PASSWORD)
    findings.push({
      variable: 'TRIGGER_PAGE_PASSWORD',
      message:
        `is too weak: ${password.length} characters, at least ${SECRET_MINIMUMS.PASSWORD} needed (or a werkzeug hash); ` +
        `generate one with \`openssl rand -base64 18\``,
    });
  const metrics = env.METRICS_TOKEN;
  if (metrics !== undefined && (metrics.length < SECRET_MINIMUMS.TOKEN || isTriviallyRepetitive(metrics)))
    findings.push({
      variable: 'METRICS_TOKEN',
      message: `is too weak: at least ${SECRET_MINIMUMS.TOKEN} varied characters needed; ${fix}`,
    });
  return findings;
}
