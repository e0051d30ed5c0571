// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder: bearer tokens, scopes and stream tickets of issue 3. Until then every caller is open.
import type { FastifyInstance } from 'fastify';

export function registerAuth(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    request.caller = { kind: 'open', scopes: ['read', 'write', 'claim', 'admin'], clientKey: request.ip };
  });
}
