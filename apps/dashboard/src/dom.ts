/** A tiny element builder: enough for a few forms and tables without a framework. */
type Child = Node | string | number | null | undefined | false;
/** An event handler; an async one's rejection is shown to the operator instead of being left unhandled. */
type Handler = (event: Event) => unknown;
type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), listener(value));
    else if (key === 'value' && 'value' in el) (el as HTMLInputElement).value = String(value);
    else if (key === 'checked' && 'checked' in el) (el as HTMLInputElement).checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function listener(handler: Handler): EventListener {
  return (event) => {
    const result = handler(event);
    if (result instanceof Promise) result.catch((err: unknown) => toast(err instanceof Error ? err.message : String(err), 'error'));
  };
}

let idCounter = 0;
/** A fresh id for label/input pairs. */
export const uid = (prefix = 'f') => `${prefix}-${++idCounter}`;

/** A labelled control: `<div class="field"><label for=id>…</label>control</div>`. */
export function labelled(text: string, control: HTMLElement, hint?: string): HTMLDivElement {
  if (!control.id) control.id = uid();
  return h('div', { class: 'field' }, h('label', { for: control.id }, text), control, hint ? h('small', { class: 'hint' }, hint) : null);
}

export function checkbox(text: string, checked: boolean, attrs: Attrs = {}): { wrap: HTMLLabelElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', checked, ...attrs });
  return { wrap: h('label', { class: 'check' }, input, ' ', text), input };
}

export function select(options: Array<[string, string]>, value: string, attrs: Attrs = {}): HTMLSelectElement {
  return h('select', attrs, ...options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

let toastTimer: number | undefined;
/** A short status message for the operator (screen readers hear it through aria-live). */
export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (el.hidden = true), 5000);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString('fr-FR');
}

/** Calls `refresh` every `everyMs` while the tab is visible; a hidden tab stops polling and refreshes when shown again. */
export function pollWhileVisible(refresh: () => Promise<void>, everyMs: number): void {
  let timer: number | undefined;
  const schedule = () => {
    window.clearInterval(timer);
    timer = document.hidden ? undefined : window.setInterval(() => void refresh(), everyMs);
  };
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void refresh();
    schedule();
  });
  schedule();
}
