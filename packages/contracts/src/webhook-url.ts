/**
 * Webhook target URL helpers shared by the config documents and the routing rules (docs/original-behaviour.md, "Webhook URLs,
 * placeholders and Make.com shorthands").
 */

export const MAKE_WEBHOOK_HOST = 'hook.eu2.make.com';

/**
 * Make.com shorthands as the original accepts them: `http(s)://…` unchanged (http included), `token@hook.eu2.make.com`
 * and a bare token (no `/`, space or `@`) → `https://hook.eu2.make.com/<token>`; anything else → null.
 */
export function normalizeMakeWebhookUrl(value: string | null | undefined): string | null {
  const text = (value ?? '').trim();
  if (!text) return null;
  if (text.startsWith('http://') || text.startsWith('https://')) return text;
  if (text.includes(`@${MAKE_WEBHOOK_HOST}`)) {
    const token = text.split('@', 1)[0]!.trim();
    if (token) return `https://${MAKE_WEBHOOK_HOST}/${token}`;
  }
  if (!text.includes('/') && !text.includes(' ') && !text.includes('@')) return `https://${MAKE_WEBHOOK_HOST}/${text}`;
  return null;
}

/** Hosts that mean "not configured yet" (copied from examples and docs). */
export const PLACEHOLDER_HOSTS: readonly string[] = ['example.com', 'example.org', 'example.net', 'test.com', 'localhost', '127.0.0.1'];
const PLACEHOLDER_SUFFIXES = ['.example.com', '.example.net'];
/** Placeholder hosts that are real loopback targets when private networking is allowed (local sinks, tests). */
export const LOOPBACK_PLACEHOLDER_HOSTS: readonly string[] = ['localhost', '127.0.0.1'];

function hostnameOf(url: string): string | null {
  try {
    return new URL(url.trim()).hostname.toLowerCase().replace(/\.$/, '') || null;
  } catch {
    return null;
  }
}

/**
 * Empty or unparsable URLs, the placeholder hosts, and subdomains of example.com / example.net. Other loopback
 * addresses (127.0.0.2) are not placeholders: the network guard refuses them at delivery time.
 */
export function isPlaceholderUrl(url: string | null | undefined): boolean {
  if (!url || !url.trim()) return true;
  const host = hostnameOf(url);
  if (!host) return true;
  return PLACEHOLDER_HOSTS.includes(host) || PLACEHOLDER_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** Is the URL aimed at localhost / 127.0.0.1 (allowed only with private networking)? */
export function isLoopbackPlaceholderUrl(url: string): boolean {
  const host = hostnameOf(url);
  return host !== null && LOOPBACK_PLACEHOLDER_HOSTS.includes(host);
}
