// SPDX-License-Identifier: GPL-3.0-or-later
// The verifier of each `verify:` name.

import type { WebhookVerifierName } from '../routes-file.js';
import { bitbucketVerifier } from './bitbucket.js';
import { githubVerifier } from './github.js';
import { noneVerifier } from './none.js';
import { secretHeaderVerifier } from './secret-header.js';
import { standardVerifier } from './standard.js';
import { stripeVerifier } from './stripe.js';
import type { Verifier } from './verifier.js';

export const VERIFIERS: Readonly<Record<WebhookVerifierName, Verifier>> = {
  github: githubVerifier,
  bitbucket: bitbucketVerifier,
  stripe: stripeVerifier,
  standard: standardVerifier,
  'secret-header': secretHeaderVerifier,
  none: noneVerifier,
};

export type { Headers, Verifier } from './verifier.js';
