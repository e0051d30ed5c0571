// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder: the exact-match CORS allow-list of issue 3.
import type { FastifyInstance } from 'fastify';

export async function registerCors(_app: FastifyInstance): Promise<void> {}
