// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder: the SSE hub and stream routes of issue 3.
import type { FastifyInstance } from 'fastify';

export function registerStreamRoutes(_app: FastifyInstance): void {}
