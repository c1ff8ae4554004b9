/**
 * File-sharing providers whose links are delivery links. Providers are data: adding one is adding an entry here.
 * The default set is the original's three, with the original's matching semantics; others are opt-in.
 */

export interface LinkProvider {
  /** Stable id, sent as `delivery_links[].provider`. */
  id: string;
  label: string;
  /**
   * Regex source (no capturing groups, no flags) for what follows `http(s)://` in the email text; matched
   * case-insensitively. The URL then runs to the next whitespace, `<`, `>` or `"`.
   */
  hostPattern: string;
  /** Hosts (exact or parent domain) that belong to the provider, for classifying an already parsed URL. */
  hostSuffixes: readonly string[];
  /** May the offload worker fetch these links into R2? */
  offloadAllowed: boolean;
  /** How the offload worker canonicalises a source URL before fetching it (the original does it for Dropbox only). */
  sourceNormalisation: 'dropbox' | 'unescape';
  /** Links that are not deliverables (e.g. Dropbox logo assets), checked on the unescaped URL. */
  isNotDeliverable?: (url: string) => boolean;
}

const LOGO_LIKE_PREFIXES = ['ms', 'logo', 'avatar', 'profile'];
const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif'];

/**
 * Dropbox emails embed preview images (the sender's avatar, logos) as `/scl/fi/…/MS.png?…&raw=1` links.
 * The heuristic is deliberately narrow so that real deliverables are never dropped.
 */
export function isDropboxLogoAsset(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (!parsed.hostname.toLowerCase().endsWith('dropbox.com')) return false;
  const path = parsed.pathname.toLowerCase();
  const filename = path.split('/').pop() ?? '';
  if (!filename || !path.startsWith('/scl/fi/')) return false;
  if (!parsed.searchParams.getAll('raw').some((value) => value.trim() === '1')) return false;
  if (!IMAGE_EXTENSIONS.some((extension) => filename.endsWith(extension))) return false;
  const base = filename.slice(0, filename.lastIndexOf('.'));
  return LOGO_LIKE_PREFIXES.some((prefix) => base.startsWith(prefix));
}

/** After an opt-in provider's host: not more host characters (so `wetransfer.community` is not WeTransfer). */
const HOST_END = '(?![a-z0-9-]|\\.[a-z0-9])';

export const DROPBOX: LinkProvider = {
  id: 'dropbox',
  label: 'Dropbox',
  // The original's pattern: optional `www.`, no other subdomain, nothing required after the domain.
  hostPattern: '(?:www\\.)?dropbox\\.com',
  hostSuffixes: ['dropbox.com'],
  offloadAllowed: true,
  sourceNormalisation: 'dropbox',
  isNotDeliverable: isDropboxLogoAsset,
};

export const FROMSMASH: LinkProvider = {
  id: 'fromsmash',
  label: 'FromSmash',
  hostPattern: '(?:www\\.)?fromsmash\\.com',
  hostSuffixes: ['fromsmash.com'],
  offloadAllowed: true,
  sourceNormalisation: 'unescape',
};

export const SWISSTRANSFER: LinkProvider = {
  id: 'swisstransfer',
  label: 'SwissTransfer',
  hostPattern: '(?:www\\.)?swisstransfer\\.com',
  hostSuffixes: ['swisstransfer.com'],
  offloadAllowed: true,
  sourceNormalisation: 'unescape',
};

export const WETRANSFER: LinkProvider = {
  id: 'wetransfer',
  label: 'WeTransfer',
  hostPattern: `(?:(?:[a-z0-9-]+\\.)*wetransfer\\.com|we\\.tl)${HOST_END}`,
  hostSuffixes: ['wetransfer.com', 'we.tl'],
  // The original's R2 allowlist already admitted wetransfer.com.
  offloadAllowed: true,
  sourceNormalisation: 'unescape',
};

export const GOOGLE_DRIVE: LinkProvider = {
  id: 'google_drive',
  label: 'Google Drive',
  hostPattern: `(?:drive|docs)\\.google\\.com${HOST_END}`,
  hostSuffixes: ['drive.google.com', 'docs.google.com'],
  // Drive serves interstitial pages (virus scan, sign-in) instead of the file: not fetchable by the offload worker.
  offloadAllowed: false,
  sourceNormalisation: 'unescape',
};

/** The original's providers, in its order. */
export const DEFAULT_PROVIDERS: readonly LinkProvider[] = [DROPBOX, FROMSMASH, SWISSTRANSFER];
/** Available when an operator opts in. */
export const OPTIONAL_PROVIDERS: readonly LinkProvider[] = [WETRANSFER, GOOGLE_DRIVE];
export const ALL_PROVIDERS: readonly LinkProvider[] = [...DEFAULT_PROVIDERS, ...OPTIONAL_PROVIDERS];
export const KNOWN_PROVIDER_IDS: readonly string[] = ALL_PROVIDERS.map((provider) => provider.id);

export class UnknownProviderError extends Error {
  constructor(readonly unknownIds: string[]) {
    super(`Unknown link provider(s): ${unknownIds.join(', ')} (known: ${KNOWN_PROVIDER_IDS.join(', ')})`);
    this.name = 'UnknownProviderError';
  }
}

/** Providers by id, in the given order, duplicates ignored. Unknown ids throw: a typo must not disable a provider. */
export function resolveProviders(ids: readonly string[]): LinkProvider[] {
  const wanted = [...new Set(ids.map((id) => id.trim().toLowerCase()).filter(Boolean))];
  const unknown = wanted.filter((id) => !KNOWN_PROVIDER_IDS.includes(id));
  if (unknown.length > 0) throw new UnknownProviderError(unknown);
  return wanted.map((id) => ALL_PROVIDERS.find((provider) => provider.id === id)!);
}

/** The provider a parsed URL belongs to (host equal to, or a subdomain of, one of its hosts), if any. */
export function providerForUrl(url: string, providers: readonly LinkProvider[] = ALL_PROVIDERS): LinkProvider | undefined {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined;
  }
  return providers.find((provider) => provider.hostSuffixes.some((suffix) => host === suffix || host.endsWith(`.${suffix}`)));
}
