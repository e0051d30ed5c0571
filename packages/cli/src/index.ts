// SPDX-License-Identifier: GPL-3.0-or-later
export { EXIT, type ExitCode, exitCodeFor } from './exit-codes.js';
export { CLI_VERSION, type CliIo, run, type TextSink } from './run.js';
