import { Router } from 'express';
import { computeEmailId, ingressPayloadSchema } from '@render-signal/contracts';
import { readSettings } from '@render-signal/config-store';
import { maskUrl } from '@render-signal/observability';
import { buildDeliveries, formatFields, planEmail } from '@render-signal/pipeline';
import { normalizeRules, type RoutingRule } from '@render-signal/routing';
import type { AppDeps } from '../../app-deps';
import { planContextFor, previewRenderer, renderForPreview } from './payload-preview';
import { expectedRevision, invalid, keepStoredUrl, ok, refusePrivateTargets, storeError } from './respond';

/** Rule targets not already stored (those were checked when saved): the ones to check now. */
function newTargets(rules: readonly RoutingRule[], stored: readonly RoutingRule[]): Array<{ path: string; url: string }> {
  const known = new Set(stored.map((r) => r.actions.webhook_url));
  return rules.flatMap((rule, i) =>
    known.has(rule.actions.webhook_url) ? [] : [{ path: `rules[${i}].actions.webhook_url`, url: rule.actions.webhook_url }],
  );
}

/** Routing rules (docs/original-behaviour.md, "Routing rules document") and the dry run: nothing is sent, every URL is masked. */
export function routingRulesRouter(deps: AppDeps): Router {
  const router = Router();
  const renderer = previewRenderer(deps);
  const ruleOptions = { refusePlaceholderUrls: true, allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK };
  const policy = { allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK };
  const maskRules = <T extends { actions: { webhook_url: string } }>(rules: readonly T[]) =>
    rules.map((rule) => ({ ...rule, actions: { ...rule.actions, webhook_url: maskUrl(rule.actions.webhook_url) } }));

  router.get('/api/routing_rules', async (_req, res) => {
    const doc = await deps.settings.get('routing_rules');
    ok(res, { config: { rules: maskRules(doc.rules), _updated_at: doc._updated_at, _revision: doc._revision } });
  });

  router.post('/api/routing_rules', async (req, res) => {
    const body = (req.body ?? {}) as { rules?: unknown };
    const current = await deps.settings.get('routing_rules');
    // A rule sent back with its masked URL keeps the stored URL of the rule with the same id (else of another rule).
    const storedUrls = current.rules.map((s) => s.actions.webhook_url);
    const incoming = Array.isArray(body.rules)
      ? body.rules.map((rule: unknown, index) => {
          const r = rule as { id?: unknown; actions?: { webhook_url?: unknown } };
          const url = r?.actions?.webhook_url;
          if (typeof url !== 'string') return rule;
          const sameId = current.rules.find((s) => s.id === r.id)?.actions.webhook_url;
          const kept = keepStoredUrl(url, [sameId, ...storedUrls], `rules[${index}].actions.webhook_url`);
          return kept === url ? rule : { ...r, actions: { ...r.actions, webhook_url: kept } };
        })
      : body.rules;
    const normalized = normalizeRules(incoming, ruleOptions);
    if (!normalized.ok) throw invalid(normalized.message, normalized.errors);
    await refusePrivateTargets(newTargets(normalized.rules, current.rules), policy);
    const saved = await deps.settings
      .put('routing_rules', { rules: normalized.rules }, { expectedRevision: expectedRevision(body) })
      .catch((e: unknown) => {
        throw storeError(e);
      });
    ok(res, {
      message: 'Règles mises à jour.',
      config: { rules: maskRules(saved.rules), _updated_at: saved._updated_at, _revision: saved._revision },
    });
  });

  router.post('/api/routing_rules/test', async (req, res) => {
    const body = (req.body ?? {}) as { email?: unknown; rules?: unknown };
    const parsedEmail = ingressPayloadSchema.safeParse(body.email ?? body);
    if (!parsedEmail.success) {
      const errors = parsedEmail.error.issues.map((i) => ({ path: `email.${i.path.join('.')}`, message: i.message }));
      throw invalid(errors[0]?.message ?? 'invalid email', errors);
    }
    const settings = await readSettings(deps.settings);
    if (body.rules !== undefined) {
      const normalized = normalizeRules(body.rules, ruleOptions);
      if (!normalized.ok) throw invalid(normalized.message, normalized.errors);
      await refusePrivateTargets(newTargets(normalized.rules, settings.routing_rules.rules), policy);
      settings.routing_rules = { ...settings.routing_rules, rules: normalized.rules };
    }
    const email = parsedEmail.data;
    const emailId = computeEmailId(email);
    const now = new Date();
    const plan = planEmail({ email, email_id: emailId }, planContextFor(deps, settings, now));
    const rules = (plan.routing?.matches ?? []).map((m) => ({ ...m }));
    const deliveries = plan.skip ? [] : buildDeliveries({ email, email_id: emailId }, plan, plan.links);
    // Each delivery's body as it would be sent (standard, flat or rendered template), or the template's error.
    const bodies = await Promise.all(
      deliveries.map((d) =>
        renderForPreview(renderer, d.format ?? { format: 'standard' }, { ...d, ...formatFields(d), webhook_id: d.webhookId }),
      ),
    );
    ok(res, {
      dry_run: true,
      message: 'Dry-run: aucun envoi effectué.',
      email_id: emailId,
      evaluated_at: now.toISOString(),
      detection: plan.detection,
      skip: plan.skip ?? null,
      window: plan.window ?? null,
      links: plan.links ?? [],
      rules,
      stopped_by: plan.routing?.stopped_by ?? null,
      extracted: plan.extracted ?? {},
      // A name two applied rules extracted: the first applied rule's value is the one sent.
      extract_conflicts: plan.routing?.extract_conflicts ?? [],
      deliveries: deliveries.map((d, i) => ({
        webhook_id: d.webhookId,
        target: maskUrl(d.target.url),
        origin: d.target.origin,
        priority: d.priority,
        delivery_mode: d.target.mode,
        payload: d.payload,
        payload_size_bytes: Buffer.byteLength(JSON.stringify(d.payload), 'utf8'),
        payload_format: d.format?.format ?? 'standard',
        ...bodies[i],
      })),
    });
  });
  return router;
}
