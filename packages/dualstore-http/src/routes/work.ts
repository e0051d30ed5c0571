// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder: filled in by the routes work of issue 3.
import type { FastifyInstance } from 'fastify';

export function registerWorkRoutes(_app: FastifyInstance): void {}
