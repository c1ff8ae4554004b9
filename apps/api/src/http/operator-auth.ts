import type { RequestHandler } from 'express';
import type { AppDeps } from '../app';
import { bearerAuth } from './bearer-auth';

/**
 * Guards the operator (dashboard) API. Until the dashboard session lands, the config endpoints accept the
 * ingress bearer token (PROCESS_API_TOKEN), as the routes' docs say.
 */
export function requireOperator(deps: AppDeps): RequestHandler {
  return bearerAuth(deps.env.PROCESS_API_TOKEN);
}
