/**
 * Who may do what. The server asks an Authorizer before every route runs; the three kinds are
 * open access (this file), htpasswd basic auth and bearer tokens from the built-in token endpoint
 * (auth.ts). Access is the distribution spec's resource scope: a repository and the actions
 * wanted on it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from './routes';

export interface Authorizer {
  /**
   * Checks that the request may do `access` (undefined: the base endpoint, which only needs an
   * identity; `catalog`: the repository listing). Returns the user, if any; throws UNAUTHORIZED
   * with the challenge, or DENIED.
   */
  check(req: IncomingMessage, access: Access | undefined, catalog: boolean): Promise<string | undefined>;
  /** Whether the request may do `access`, without throwing (a mount's source, catalog entries). */
  allows(req: IncomingMessage, access: Access): Promise<boolean>;
  /** Routes of its own (the token endpoint); true when it answered the request. */
  extraRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export const openAccess: Authorizer = {
  check: async () => undefined,
  allows: async () => true,
  extraRoute: async () => false,
};
