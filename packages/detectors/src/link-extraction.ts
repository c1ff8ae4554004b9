import { decodeHTML } from 'entities';
import { DEFAULT_PROVIDERS, type LinkProvider } from './link-providers';
import { PYTHON_WHITESPACE } from './text-normalisation';

export interface DeliveryLink {
  provider: string;
  raw_url: string;
}

/** A URL runs to the next whitespace, `<`, `>` or `"` (trailing punctuation and `'` stay, as in the original). */
const URL_TAIL = `[^${PYTHON_WHITESPACE}<>"]*`;

interface LinkScanner {
  pattern: RegExp;
  providers: readonly LinkProvider[];
}

const scanners = new WeakMap<readonly LinkProvider[], LinkScanner>();

/** One case-insensitive regex for all providers; a named group per provider tells which host matched. */
function scannerFor(providers: readonly LinkProvider[]): LinkScanner {
  let scanner = scanners.get(providers);
  if (!scanner) {
    const alternatives = providers.map((provider, index) => `(?<p${index}>${provider.hostPattern})`).join('|');
    scanner = { pattern: new RegExp(`https?://(?:${alternatives})${URL_TAIL}`, 'gi'), providers };
    scanners.set(providers, scanner);
  }
  return scanner;
}

function providerOfMatch(match: RegExpMatchArray, providers: readonly LinkProvider[]): LinkProvider | undefined {
  return providers.find((_provider, index) => match.groups?.[`p${index}`] !== undefined);
}

/** Does the text contain at least one link of these providers? */
export function containsProviderLink(text: string, providers: readonly LinkProvider[] = DEFAULT_PROVIDERS): boolean {
  if (!text || providers.length === 0) return false;
  const { pattern } = scannerFor(providers);
  pattern.lastIndex = 0;
  const found = pattern.test(text);
  pattern.lastIndex = 0;
  return found;
}

/**
 * Delivery links in an email body (HTML or plain text), in order of appearance.
 * Each match is HTML-unescaped (`&amp;` → `&`); the first occurrence of each URL wins, so an `href` with `&amp;` and the
 * same URL in the visible text collapse into one. Links the provider marks as not deliverable (Dropbox logos) are dropped.
 */
export function extractDeliveryLinks(body: string, providers: readonly LinkProvider[] = DEFAULT_PROVIDERS): DeliveryLink[] {
  if (!body || providers.length === 0) return [];
  const scanner = scannerFor(providers);
  const seen = new Set<string>();
  const links: DeliveryLink[] = [];
  for (const match of body.matchAll(scanner.pattern)) {
    const provider = providerOfMatch(match, scanner.providers);
    const url = decodeHTML(match[0].trim());
    if (!provider || !url || seen.has(url)) continue;
    if (provider.isNotDeliverable?.(url)) continue;
    seen.add(url);
    links.push({ provider: provider.id, raw_url: url });
  }
  return links;
}
