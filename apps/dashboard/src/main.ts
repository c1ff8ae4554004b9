import './style.css';
import { api, setCsrfToken } from './api';
import { mountEmails, type EmailsTab } from './emails';
import { mountLogs } from './logs';
import { mountOverview } from './overview';
import { mountRules } from './rules';
import { mountTargets } from './targets';
import { mountTools } from './tools';
import { mountWebhooks } from './webhooks';

type TabName = 'overview' | 'emails' | 'targets' | 'rules' | 'webhooks' | 'logs' | 'tools';
const TABS: TabName[] = ['overview', 'emails', 'targets', 'rules', 'webhooks', 'logs', 'tools'];
const mounted = new Set<TabName>();
let emails: EmailsTab | undefined;

function panel(name: TabName): HTMLElement {
  return document.getElementById(`panel-${name}`) as HTMLElement;
}

function mount(name: TabName): void {
  if (mounted.has(name)) return;
  mounted.add(name);
  const el = panel(name);
  if (name === 'overview') void mountOverview(el);
  if (name === 'emails') emails = mountEmails(el);
  if (name === 'targets') void mountTargets(el);
  if (name === 'rules') void mountRules(el);
  if (name === 'webhooks') void mountWebhooks(el);
  if (name === 'logs') void mountLogs(el);
  if (name === 'tools') void mountTools(el);
}

/** `#emails/<email_id>` opens that email's journey (deep link); `#<tab>` a tab. */
function parseHash(): { tab: TabName; emailId: string | null } {
  const hash = window.location.hash.slice(1);
  const slash = hash.indexOf('/');
  const tab = (slash < 0 ? hash : hash.slice(0, slash)) as TabName;
  if (tab === 'emails' && slash >= 0) return { tab, emailId: decodeURIComponent(hash.slice(slash + 1)) || null };
  return { tab: TABS.includes(tab) ? tab : 'overview', emailId: null };
}

function select(name: TabName, focus = false, emailId: string | null = null): void {
  for (const tab of TABS) {
    const button = document.getElementById(`tab-${tab}`) as HTMLButtonElement;
    const active = tab === name;
    button.setAttribute('aria-selected', String(active));
    button.tabIndex = active ? 0 : -1;
    panel(tab).hidden = !active;
    if (active && focus) button.focus();
  }
  mount(name);
  if (name === 'emails') void emails?.show(emailId);
  const wanted = name === 'emails' && emailId ? `#emails/${encodeURIComponent(emailId)}` : `#${name}`;
  if (window.location.hash !== wanted) history.replaceState(null, '', wanted);
}

async function boot(): Promise<void> {
  const session = await api<{ user: string; csrf_token: string; expires_at: string }>('GET', '/api/auth/session');
  setCsrfToken(session.csrf_token);
  const who = document.getElementById('whoami');
  if (who) who.textContent = `Connecté : ${session.user}`;
  TABS.forEach((tab, index) => {
    const button = document.getElementById(`tab-${tab}`) as HTMLButtonElement;
    button.addEventListener('click', () => select(tab));
    // Arrow keys move between tabs (WAI-ARIA tabs pattern).
    button.addEventListener('keydown', (event) => {
      const delta = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
      if (delta === 0) return;
      event.preventDefault();
      select(TABS[(index + delta + TABS.length) % TABS.length] as TabName, true);
    });
  });
  // Links to #emails/<id> (the list, the delivery log) and the back/forward buttons.
  window.addEventListener('hashchange', () => {
    const { tab, emailId } = parseHash();
    select(tab, false, emailId);
  });
  const { tab, emailId } = parseHash();
  select(tab, false, emailId);
}

void boot();
