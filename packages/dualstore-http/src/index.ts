// SPDX-License-Identifier: GPL-3.0-or-later
export type { FastifyInstance } from 'fastify';
export { buildApp } from './app.js';
export type { AppOptions, Caller, DualStoreRouteConfig, RouteScope } from './context.js';
export { DEFAULTS, VERSION } from './context.js';
