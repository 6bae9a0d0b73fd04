/** Public API of the registrar (RFC 3261 section 10, RFC 7616/8760 digest): sans-IO, no timers. */
export {
  Registrar,
  remainingSeconds,
  type RegistrarOptions,
  type RegisterResult,
} from './registrar.js';
export {
  BindingStore,
  aorBecameReachable,
  aorBecameUnreachable,
  sortByQ,
  DEFAULT_MAX_AORS,
  DEFAULT_MAX_BINDINGS_PER_AOR,
  type RegistrarBinding,
  type BindingChange,
  type BindingChangeKind,
  type BindingStoreOptions,
} from './binding-store.js';
export {
  DigestAuthenticator,
  computeHa1,
  digestHash,
  digestResponse,
  type DigestAuthenticatorOptions,
  type DigestResponseInput,
  type UserLookup,
  type VerifyFailure,
  type VerifyResult,
} from './digest.js';
export { parseCredentials, formatChallenge, type DigestCredentials, type ChallengeFields } from './digest-header.js';
export {
  loadUsersFile,
  parseUsersFile,
  type DigestAlgorithm,
  type Ha1Entry,
  type UserSecret,
  type UsersFileResult,
} from './users-file.js';
export { uriEquals, normalizeEscapes } from './uri-equal.js';
export { parseQValue } from './contact-fields.js';
export { bindingDestination, contactEndpoint, needsFlowRouting, type FlowOpen } from './flow.js';
