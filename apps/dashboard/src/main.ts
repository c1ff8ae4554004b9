import './style.css';
import { api, setCsrfToken } from './api';
import { mountLogs } from './logs';
import { mountRules } from './rules';
import { mountTools } from './tools';
import { mountWebhooks } from './webhooks';

type TabName = 'rules' | 'webhooks' | 'logs' | 'tools';
const TABS: TabName[] = ['rules', 'webhooks', 'logs', 'tools'];
const mounted = new Set<TabName>();

function panel(name: TabName): HTMLElement {
  return document.getElementById(`panel-${name}`) as HTMLElement;
}

function mount(name: TabName): void {
  if (mounted.has(name)) return;
  mounted.add(name);
  const el = panel(name);
  if (name === 'rules') void mountRules(el);
  if (name === 'webhooks') void mountWebhooks(el);
  if (name === 'logs') void mountLogs(el);
  if (name === 'tools') void mountTools(el);
}

function select(name: TabName, focus = false): void {
  for (const tab of TABS) {
    const button = document.getElementById(`tab-${tab}`) as HTMLButtonElement;
    const active = tab === name;
    button.setAttribute('aria-selected', String(active));
    button.tabIndex = active ? 0 : -1;
    panel(tab).hidden = !active;
    if (active && focus) button.focus();
  }
  mount(name);
  if (window.location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
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
  const initial = window.location.hash.slice(1) as TabName;
  select(TABS.includes(initial) ? initial : 'rules');
}

void boot();
