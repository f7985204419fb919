// What Session.stats() reports: counters of one session's streams, bytes and frames.
export interface SessionStats {
  streams: number;
  opened: number;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  rttMs: number | undefined;
  ageMs: number;
}
