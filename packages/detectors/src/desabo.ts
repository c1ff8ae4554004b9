import { normalizeForKeywordMatch } from './text-normalisation';

export interface DesaboResult {
  matches: boolean;
  has_dropbox_request: boolean;
  is_urgent: boolean;
}

/** Any of these in the body means the email is about something else (billing, cancellation…). Plain substrings. */
const FORBIDDEN_IN_BODY = ['annulation', 'facturation', 'facture', 'moment', 'reference client', 'total ht'];
const DROPBOX_REQUEST = 'https://www.dropbox.com/request/';

/** The DESABO ("desabonnement_journee_tarifs") detector (docs/original-behaviour.md, "DESABO"). */
export function detectDesabo(subject: string, body: string): DesaboResult {
  const normalisedBody = normalizeForKeywordMatch(body);
  const normalisedSubject = normalizeForKeywordMatch(subject);
  const hasDropboxRequest = body.toLowerCase().includes(DROPBOX_REQUEST);

  const hasKeywords = normalisedBody.includes('journee') && normalisedBody.includes('tarifs habituels');
  const mentionsUnsubscribe = normalisedBody.includes('desabonn') || normalisedSubject.includes('desabonn') || hasDropboxRequest;
  const hasForbidden = FORBIDDEN_IN_BODY.some((term) => normalisedBody.includes(term));
  const isUrgent = [normalisedSubject, normalisedBody].some((text) => text.includes('urgent') || text.includes('urgence'));

  return {
    matches: hasKeywords && mentionsUnsubscribe && !hasForbidden,
    has_dropbox_request: hasDropboxRequest,
    is_urgent: isUrgent,
  };
}
