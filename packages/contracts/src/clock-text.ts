/** A time of day as operators write it: `HHhMM` or `HH:MM` (H 0-23, two-digit minutes), e.g. `9h30`, `17:45`. */
const CLOCK_TEXT = /^([01]?[0-9]|2[0-3])[h:]([0-5][0-9])$/;

/** Minutes since midnight, or null when the text is not a time of day. Surrounding whitespace is ignored. */
export function parseClock(text: string | null | undefined): number | null {
  const match = CLOCK_TEXT.exec((text ?? '').trim());
  if (!match) return null;
  return Number(match[1]) * 60 + Number(match[2]);
}
