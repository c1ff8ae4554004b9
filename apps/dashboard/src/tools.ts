import type { PermanentMagicLink } from '@render-signal/auth';
import { api, ApiRequestError, errorMessage } from './api';
import { checkbox, formatDate, h, labelled, toast } from './dom';

/** Config export/import (validated whole on the server) and magic links. */

export async function mountTools(root: HTMLElement): Promise<void> {
  root.append(h('h2', {}, 'Outils'), renderConfigIo(), await renderMagicLinks(), renderSessions());
}

function renderConfigIo(): HTMLElement {
  const out = h('div', { 'aria-live': 'polite', 'data-testid': 'import-result' });
  const file = h('input', { type: 'file', accept: 'application/json,.json', 'data-testid': 'import-file' });

  async function exportConfig(): Promise<void> {
    try {
      const answer = await api('GET', '/api/config/export');
      const blob = new Blob([JSON.stringify(answer, null, 2)], { type: 'application/json' });
      const link = h('a', { href: URL.createObjectURL(blob), download: 'render_signal_config.json' });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      toast(`Export impossible : ${errorMessage(error)}`, 'error');
    }
  }

  async function importConfig(event: Event): Promise<void> {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return void out.replaceChildren(h('p', { class: 'field-error' }, 'Choisissez un fichier JSON.'));
    let parsed: unknown;
    try {
      parsed = JSON.parse(await chosen.text());
    } catch {
      return void out.replaceChildren(h('p', { class: 'field-error', role: 'alert' }, 'Fichier illisible : JSON invalide.'));
    }
    try {
      // Our export file or the original server's render_signal_dashboard_config.json: the API reads both.
      const answer = await api<{ message: string; imported: string[]; not_imported?: Array<{ path: string; reason: string }> }>(
        'POST',
        '/api/config/import',
        parsed,
      );
      const skipped = answer.not_imported ?? [];
      out.replaceChildren(h('p', { class: 'ok' }, `${answer.message} (${answer.imported.join(', ')})`));
      if (skipped.length) out.append(h('ul', {}, ...skipped.map((s) => h('li', {}, `Non importé — ${s.path} : ${s.reason}`))));
    } catch (error) {
      const items = error instanceof ApiRequestError ? error.errors.map((e) => h('li', {}, `${e.path} : ${e.message}`)) : [];
      out.replaceChildren(
        h(
          'div',
          { class: 'field-error', role: 'alert' },
          h('p', {}, `Import refusé, rien n’a été modifié : ${errorMessage(error)}`),
          items.length ? h('ul', {}, ...items) : null,
        ),
      );
    }
  }

  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'tools-config' },
    h('h3', { id: 'tools-config' }, 'Configuration'),
    h(
      'p',
      {},
      'L’export contient tous les documents de configuration, URLs masquées ; à l’import, une URL masquée garde la valeur actuelle.',
    ),
    h('button', { type: 'button', class: 'secondary', onClick: () => void exportConfig() }, 'Exporter la configuration'),
    h(
      'form',
      { onSubmit: (e: Event) => void importConfig(e) },
      labelled('Fichier à importer', file),
      h('button', { type: 'submit', class: 'primary' }, 'Importer'),
    ),
    out,
  );
}

type PermanentLink = PermanentMagicLink;

/** "Log out every session": this browser's session ends too, so the page goes back to the login. */
function renderSessions(): HTMLElement {
  async function revokeAll(): Promise<void> {
    if (!window.confirm('Déconnecter toutes les sessions, y compris celle-ci ? Chacun devra se reconnecter.')) return;
    try {
      await api('POST', '/api/auth/sessions/revoke-all', {});
      window.location.assign('/login?error=sessions_revoked');
    } catch (error) {
      toast(errorMessage(error), 'error');
    }
  }
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'tools-sessions' },
    h('h3', { id: 'tools-sessions' }, 'Sessions'),
    h(
      'p',
      {},
      'Ferme toutes les sessions ouvertes sur le tableau de bord (mot de passe et liens), sur tous les navigateurs. ' +
        'Changer TRIGGER_PAGE_PASSWORD (puis redémarrer l’API) ferme aussi les sessions ouvertes avec l’ancien mot de passe.',
    ),
    h(
      'button',
      { type: 'button', class: 'danger', 'data-testid': 'revoke-all-sessions', onClick: () => void revokeAll() },
      'Déconnecter toutes les sessions',
    ),
  );
}

async function renderMagicLinks(): Promise<HTMLElement> {
  const unlimited = checkbox('Lien permanent (réutilisable jusqu’à révocation)', false, { 'data-testid': 'magic-unlimited' });
  const label = h('input', { value: '', placeholder: 'ex. ordinateur de l’équipe' });
  const out = h('div', { 'aria-live': 'polite' });
  const list = h('ul', { class: 'permanent-links', 'data-testid': 'permanent-links' });

  async function refreshList(): Promise<void> {
    const answer = await api<{ links: PermanentLink[] }>('GET', '/api/auth/magic-links');
    list.replaceChildren(
      ...(answer.links.length === 0 ? [h('li', {}, 'Aucun lien permanent.')] : []),
      ...answer.links.map((link) =>
        h(
          'li',
          {},
          `${link.label ?? 'sans libellé'} — créé ${formatDate(link.created_at)} — dernier usage ${formatDate(link.last_used_at)}` +
            (link.expires_at ? ` — expire ${formatDate(link.expires_at)} ` : ' '),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              'aria-label': `Révoquer le lien ${link.label ?? link.id}`,
              onClick: async () => {
                try {
                  await api('DELETE', `/api/auth/magic-links/${encodeURIComponent(link.id)}`);
                  toast('Lien révoqué.');
                  await refreshList();
                } catch (error) {
                  toast(errorMessage(error), 'error');
                }
              },
            },
            'Révoquer',
          ),
        ),
      ),
    );
  }

  async function generate(event: Event): Promise<void> {
    event.preventDefault();
    try {
      const answer = await api<{ magic_link: string; expires_at: string | null; unlimited: boolean }>('POST', '/api/auth/magic-link', {
        unlimited: unlimited.input.checked,
        ...(label.value.trim() ? { label: label.value.trim() } : {}),
      });
      const field = h('input', {
        readonly: true,
        value: answer.magic_link,
        class: 'mono',
        'aria-label': 'Lien de connexion',
        'data-testid': 'magic-link-output',
      });
      out.replaceChildren(
        labelled(
          'Lien de connexion',
          field,
          answer.unlimited ? 'Permanent : révocable ci-dessous.' : `Usage unique, expire le ${formatDate(answer.expires_at)}.`,
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onClick: async () => {
              try {
                await navigator.clipboard.writeText(answer.magic_link);
                toast('Lien copié.');
              } catch {
                field.select();
              }
            },
          },
          'Copier',
        ),
      );
      field.select();
      if (answer.unlimited) await refreshList();
    } catch (error) {
      out.replaceChildren(h('p', { class: 'field-error', role: 'alert' }, errorMessage(error)));
    }
  }

  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'tools-magic' },
    h('h3', { id: 'tools-magic' }, 'Liens de connexion (magic links)'),
    h(
      'form',
      { onSubmit: (e: Event) => void generate(e) },
      unlimited.wrap,
      labelled('Libellé (liens permanents)', label),
      h('button', { type: 'submit', class: 'primary' }, 'Générer un lien'),
    ),
    out,
    h('h4', {}, 'Liens permanents'),
    list,
  );
  await refreshList();
  return section;
}
