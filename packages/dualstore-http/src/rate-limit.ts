// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder: per-token and per-IP rate limits of issue 3.
import type { FastifyInstance } from 'fastify';

export async function registerRateLimit(_app: FastifyInstance): Promise<void> {}
