// SPDX-License-Identifier: GPL-3.0-or-later
export * from './doc.js';
export * from './errors.js';
export * from './extract.js';
export * from './filter.js';
export * from './ids.js';
export * from './limits.js';
export * from './names.js';
export * from './requests.js';
export * from './select.js';
export * from './store.js';
export * from './time.js';
export * from './tokens.js';
