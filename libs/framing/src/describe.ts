// Human-readable frame descriptions for logs and test names, e.g. `DATA#3 len=16372 FIN|BLOCKED`.
import { Flag, FrameType } from './constants.js';

const typeNames = new Map<number, string>(Object.entries(FrameType).map(([name, value]) => [value, name]));

/** Flag names per frame type, in bit order. */
const flagNames: Readonly<Record<number, ReadonlyArray<readonly [number, string]>>> = {
  [FrameType.DATA]: [
    [Flag.FIN, 'FIN'],
    [Flag.COMPRESSED, 'COMPRESSED'],
    [Flag.BLOCKED, 'BLOCKED'],
  ],
  [FrameType.PING]: [[Flag.ACK, 'ACK']],
  [FrameType.SETTINGS]: [[Flag.ACK, 'ACK']],
};

/** `DATA`, `WINDOW`, … or `UNKNOWN(0x1f)`. */
export function frameTypeName(type: number): string {
  return typeNames.get(type) ?? `UNKNOWN(0x${type.toString(16)})`;
}

/** `FIN|BLOCKED`; bits without a name for this type are shown in hex; '' when no flag is set. */
export function flagsName(type: number, flags: number): string {
  const parts: string[] = [];
  let rest = flags;
  for (const [bit, name] of flagNames[type] ?? []) {
    if (flags & bit) {
      parts.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) parts.push(`0x${rest.toString(16)}`);
  return parts.join('|');
}

/** `DATA#3 len=16372 FIN|BLOCKED` (the flags part is left out when no flag is set). */
export function describeFrame(type: number, flags: number, streamId: number, length: number): string {
  const names = flagsName(type, flags);
  return `${frameTypeName(type)}#${streamId} len=${length}${names ? ` ${names}` : ''}`;
}
