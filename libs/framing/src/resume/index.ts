// Session resumption beneath the Session (spec §10): a resumable byte link, its handshake, the
// server's table of detached sessions and the agent's open/resume calls.
export { ResumableLink } from './link.js';
export { LINK_DEFAULTS, RESUME_WINDOW_MS, graceLeftMs, sessionKeepaliveTimeoutMs, type LinkOptions, type LinkStats } from './link-options.js';
export { ResumeTable, ResumeGraceError, issuerTag, type ResumeEntry, type Accepted, type ResumeCounters, type ResumeTableOptions } from './server.js';
export { openLink, resumeLink, ResumeRefusedError } from './client.js';
export { type ResumeCredentials } from './handshake.js';
export { challengeBinding, connectionBinding, resumeProof } from './proof.js';
export { RefuseCode, ISSUER_TAG_BYTES, type RefuseCodeName, LinkProtocolError } from './records.js';
