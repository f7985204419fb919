// The settings a side announces in its SETTINGS (spec §2), and what a side assumes for a setting its
// peer leaves out: an older or smaller peer may announce fewer ids than this implementation does.
import { CODEC_LZ4, DEFAULT_MAX_FRAME_SIZE, MAX_CONFIG_PAYLOAD, PROTOCOL_VERSION, Setting } from './constants.js';
import type { ResolvedOptions } from './options.js';
import { encodeConfig } from './payloads.js';

/** What the peer announced in its SETTINGS. */
export interface PeerSettings {
  maxFrameSize: number;
  initialWindow: number;
  maxStreams: number;
  codecs: number;
  keepaliveMs: number;
  version: number;
  /** largest CONFIG payload the peer takes (SETTINGS CONFIG); 0: it takes none */
  configMax: number;
}

/** What a peer's first SETTINGS is taken to say for each id it leaves out (spec §2, "absent"). */
export const ABSENT_SETTINGS: Readonly<PeerSettings> = Object.freeze({
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  initialWindow: 65_536,
  maxStreams: 1_024,
  codecs: 0,
  keepaliveMs: 0,
  version: 1,
  configMax: 0,
});

/** A SETTINGS frame's values over what the peer announced before (the absent defaults the first time). */
export function peerSettingsFrom(values: Map<number, number>, previous: PeerSettings | undefined): PeerSettings {
  const base = previous ?? ABSENT_SETTINGS;
  return {
    maxFrameSize: values.get(Setting.MAX_FRAME_SIZE) ?? base.maxFrameSize,
    initialWindow: values.get(Setting.INITIAL_WINDOW) ?? base.initialWindow,
    maxStreams: values.get(Setting.MAX_STREAMS) ?? base.maxStreams,
    codecs: (values.get(Setting.CODECS) ?? base.codecs) & CODEC_LZ4,
    keepaliveMs: values.get(Setting.KEEPALIVE_MS) ?? base.keepaliveMs,
    version: values.get(Setting.VERSION) ?? base.version,
    configMax: values.get(Setting.CONFIG) ?? base.configMax,
  };
}

/** The values this side announces in its first SETTINGS. */
export function localSettings(opts: ResolvedOptions): Partial<Record<number, number>> {
  return {
    [Setting.MAX_FRAME_SIZE]: opts.maxFrameSize,
    [Setting.INITIAL_WINDOW]: opts.initialWindow,
    [Setting.MAX_STREAMS]: opts.maxStreams,
    [Setting.CODECS]: opts.compression ? CODEC_LZ4 : 0,
    [Setting.KEEPALIVE_MS]: opts.keepaliveIntervalMs,
    [Setting.VERSION]: PROTOCOL_VERSION,
    // announced only when taken: an older peer never sees the id (it would ignore it anyway)
    ...(opts.config ? { [Setting.CONFIG]: MAX_CONFIG_PAYLOAD } : {}),
  };
}

/**
 * The CONFIG payload for `config` when the peer takes CONFIG frames, undefined when it does not (or
 * before its SETTINGS). A Buffer is a pre-encoded JSON object (one encoding shared by many sessions).
 * Throws RangeError above the peer's announced size.
 */
export function configFor(peer: PeerSettings | undefined, config: Record<string, unknown> | Buffer): Buffer | undefined {
  const max = peer?.configMax ?? 0;
  if (max <= 0) return undefined;
  const payload = Buffer.isBuffer(config) ? config : encodeConfig(config, max);
  if (payload.length > max) throw new RangeError(`CONFIG payload of ${payload.length} bytes exceeds the peer's ${max}`);
  return payload;
}
