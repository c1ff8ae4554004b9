import { detectDesabo } from './desabo';
import { detectMediaSolution } from './media-solution';

export type DetectorName = 'recadrage' | 'desabonnement_journee_tarifs';

export interface Detection {
  detector: DetectorName | null;
  /** Recadrage only: e.g. `14h30` or `le 03/09/2025 à 09h00`. */
  delivery_time?: string;
  /** DESABO only: decides the outside-window outcome; never sent in the payload. */
  is_urgent?: boolean;
}

/** Média Solution first; DESABO only when it does not match (docs/original-behaviour.md, "Processing order"). */
export function detectEmailType(email: { subject: string; body: string }, now: Date, timeZone: string): Detection {
  const media = detectMediaSolution(email.subject, email.body, now, timeZone);
  if (media.matches && media.delivery_time) return { detector: 'recadrage', delivery_time: media.delivery_time };
  const desabo = detectDesabo(email.subject, email.body);
  if (desabo.matches) return { detector: 'desabonnement_journee_tarifs', is_urgent: desabo.is_urgent };
  return { detector: null };
}
