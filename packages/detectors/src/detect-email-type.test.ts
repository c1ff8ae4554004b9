import { describe, expect, it } from '@jest/globals';
import { detectEmailType } from './detect-email-type';

const NOW = new Date('2025-06-10T12:34:56Z');
const LINK = 'https://www.dropbox.com/scl/fo/abc';

describe('detectEmailType', () => {
  it.each([
    [
      'recadrage with a delivery time',
      { subject: 'Média Solution - Missions Recadrage - Lot 1', body: `${LINK} à faire pour 16h` },
      { detector: 'recadrage', delivery_time: '16h00' },
    ],
    [
      'recadrage subject without a time falls through to DESABO (no match there) → none',
      { subject: 'Média Solution - Missions Recadrage - Lot 1', body: LINK },
      { detector: null },
    ],
    [
      'DESABO, not urgent',
      { subject: 'Info', body: 'journée tarifs habituels désabonner' },
      { detector: 'desabonnement_journee_tarifs', is_urgent: false },
    ],
    [
      'DESABO, urgent',
      { subject: 'URGENT', body: 'journée tarifs habituels désabonner' },
      { detector: 'desabonnement_journee_tarifs', is_urgent: true },
    ],
    [
      'Média Solution is tried first',
      { subject: 'Média Solution - Missions Recadrage - Lot 1', body: `${LINK} journée tarifs habituels désabonner à 9h` },
      { detector: 'recadrage', delivery_time: '09h00' },
    ],
    ['nothing', { subject: 'Hello', body: 'World' }, { detector: null }],
  ])('%s', (_case, email, expected) => {
    expect(detectEmailType(email, NOW, 'Europe/Paris')).toEqual(expected);
  });
});
