export {
  SESSION_PATH,
  SUBPROTOCOL,
  RESUME_SUBPROTOCOL,
  PROOF_CONTEXT,
  CHALLENGE_BYTES,
  MAX_PROOF_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_SEND_BYTES,
  CLOSE_REFUSED,
  PROOF_REFUSED,
} from './constants.js';
export { WebSocketDuplex, type DuplexOptions } from './duplex.js';
export { nonZeroMask } from './mask.js';
export { newChallenge, challengeMessage, readChallenge, proofMessage, verifyProof, type ProofVerdict } from './proof.js';
