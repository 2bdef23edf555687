/*
 * index.js -- the secmq protocol modules in one import, for the page and
 * for node: `import * as secmq from './secmq/index.js'`, then
 * `await secmq.ready()` before anything else. Each module's own header
 * says what it is for.
 */
export {
  ready, sodium, OpenError, GrantError, IdentityError, SecmqError, toHex, fromHex, toBase64,
} from './util.js';
export {
  parseSecretIdentity, parsePublicIdentity, createIdentity, fromSeed, formatSecretIdentity,
  formatPublicIdentity, identityId, nameValid, x25519Keys, wipeIdentity,
} from './identity.js';
export { filterValid, topicValid, filterMatches, compareSpecificity } from './filter.js';
export {
  seal, parseEnvelope, checkEnvelope, openEnvelope, verifySignature, messageKey, envelopeTopic,
  MODE_SIGNED, MODE_MAC, OVERHEAD_SIGNED, OVERHEAD_MAC, ENVELOPE_TOPIC_MAX,
} from './envelope.js';
export {
  openGrant, parseGrantBody, acceptGrant, buildGrantBody, sealGrant, channelId, FLAG_MAY_PUBLISH, FLAG_ALLOW_MAC,
} from './grant.js';
export { Keyring, ReplayWindow, REPLAY_WINDOW } from './keyring.js';
export { sealWithPassphrase, openWithPassphrase } from './storage.js';
