// Constant-time check of the X-R2-FETCH-TOKEN header. Both sides are hashed first so the
// comparison runs on equal-length buffers and the token's length does not leak either.

const encoder = new TextEncoder();

export async function tokenMatches(presented: string | null, expected: string): Promise<boolean> {
  const [presentedDigest, expectedDigest] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(presented ?? '')),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ]);
  const equal = crypto.subtle.timingSafeEqual(presentedDigest, expectedDigest);
  return presented !== null && equal;
}
