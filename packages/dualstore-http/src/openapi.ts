// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder: @fastify/swagger + /docs of issue 3.
import type { FastifyInstance } from 'fastify';

export async function registerOpenApi(_app: FastifyInstance): Promise<void> {}
